-- wrk script: POST results to the IAM route with requests pre-signed by
-- bench/presign.py (one PATH?QUERY a line in the file in REQUESTS), sent
-- round-robin; each thread starts at its own offset.
local report = dofile(os.getenv("LABGATE_BENCH_DIR") .. "/report.lua")

local counter = 0

function setup(thread)
    thread:set("id", counter)
    counter = counter + 1
end

local targets = {}
local next_index
local body = '{"status":"pass","suite":"bench"}'

function init(args)
    for line in io.lines(os.getenv("REQUESTS")) do
        targets[#targets + 1] = line
    end
    next_index = id + 1
end

function request()
    if next_index > #targets then
        next_index = ((next_index - 1) % #targets) + 1
    end
    local t = targets[next_index]
    next_index = next_index + 1
    return wrk.format("POST", t, {["Content-Type"] = "application/json"},
        body)
end

done = report.done
