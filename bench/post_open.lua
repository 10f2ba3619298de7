-- wrk script: POST a small result to the open route.
wrk.method = "POST"
wrk.path = "/lab/results"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"status":"pass","suite":"bench"}'
