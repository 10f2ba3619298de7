-- wrk script: POST a small result to the open route.
local report = dofile(os.getenv("LABGATE_BENCH_DIR") .. "/report.lua")

wrk.method = "POST"
wrk.path = "/lab/results"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"status":"pass","suite":"bench","run_id":"1"}'

done = report.done
