-- wrk script: GET the dashboard's summary (every suite and auth path with
-- its last 20 outcomes), which the dashboard asks for on every refresh.
local report = dofile(os.getenv("LABGATE_BENCH_DIR") .. "/report.lua")

wrk.method = "GET"
wrk.path = "/lab/summary?recent=20"

done = report.done
