-- wrk script: POST to the open route like post_open.lua, each connection
-- waiting DELAY_MS (environment) between requests, to hold a rate below
-- the maximum (bench/soak.sh).
local report = dofile(os.getenv("LABGATE_BENCH_DIR") .. "/report.lua")
local pause = tonumber(os.getenv("DELAY_MS") or "0")

wrk.method = "POST"
wrk.path = "/lab/results"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"status":"pass","suite":"soak","run_id":"1"}'

function delay()
    return pause
end

done = report.done
