-- wrk script: POST a small result to the JWT route with the token in the
-- TOKEN environment variable (one CI job posting many results, so every
-- request after the first is served from the verified-token cache).
local token = os.getenv("TOKEN")
if token == nil or token == "" then
    error("set TOKEN to a token the server trusts")
end
wrk.method = "POST"
wrk.path = "/lab/results-secure"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.body = '{"status":"pass","suite":"bench"}'
