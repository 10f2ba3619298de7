-- wrk script: GET the newest 50 results (the dashboard's first query).
local report = dofile(os.getenv("LABGATE_BENCH_DIR") .. "/report.lua")

wrk.method = "GET"
wrk.path = "/lab/results?limit=50"

done = report.done
