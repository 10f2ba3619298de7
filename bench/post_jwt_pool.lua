-- wrk script: POST results to the JWT route with tokens from the file in
-- TOKENS (one a line, from bench-mint).  MODE=reuse sends the first POOL
-- tokens (default 64) round-robin, as many CI jobs each posting several
-- results do, so most requests hit the verified-token cache; MODE=fresh
-- sends every token once, so every request pays a full RS256
-- verification (when the file runs out it wraps, and the run reports
-- how many requests reused a token on the WRAPS line).
local report = dofile(os.getenv("LABGATE_BENCH_DIR") .. "/report.lua")

local threads = {}
local counter = 0

function setup(thread)
    thread:set("id", counter)
    counter = counter + 1
    table.insert(threads, thread)
end

local tokens = {}
local mode = os.getenv("MODE") or "reuse"
local pool = tonumber(os.getenv("POOL") or "64")
local next_index
local step
wraps = 0
reused = 0
local body = '{"status":"pass","suite":"bench"}'

function init(args)
    local path = os.getenv("TOKENS")
    if path == nil then
        error("set TOKENS to the file bench-mint wrote")
    end
    for line in io.lines(path) do
        tokens[#tokens + 1] = line
        if mode == "reuse" and #tokens >= pool then
            break
        end
    end
    -- Each wrk run starts past the tokens earlier runs used.
    next_index = id + 1 + tonumber(os.getenv("TOKEN_OFFSET") or "0")
    step = tonumber(os.getenv("WRK_THREADS") or "2")
end

function request()
    if next_index > #tokens then
        next_index = ((next_index - 1) % #tokens) + 1
        wraps = wraps + 1
    end
    if wraps > 0 then
        reused = reused + 1
    end
    local tok = tokens[next_index]
    next_index = next_index + step
    return wrk.format("POST", "/lab/results-secure",
        {["Content-Type"] = "application/json",
         ["Authorization"] = "Bearer " .. tok}, body)
end

function done(summary, latency, requests)
    local w = 0
    for _, t in ipairs(threads) do
        w = w + (t:get("reused") or 0)
    end
    report.done(summary, latency, requests)
    io.write(string.format("WRAPS %d\n", w))
end
