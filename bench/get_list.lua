-- wrk script: GET the newest 50 results (the dashboard's first query),
-- or, with LIST_FILTER set (for example "source_addr=10.0.7.7"), the
-- newest 50 that match that filter.
local report = dofile(os.getenv("LABGATE_BENCH_DIR") .. "/report.lua")
local filter = os.getenv("LIST_FILTER")

wrk.method = "GET"
wrk.path = "/lab/results?limit=50"
if filter ~= nil and filter ~= "" then
    wrk.path = wrk.path .. "&" .. filter
end

done = report.done
