-- Shared wrk reporting: one machine-readable line per run, read by
-- bench/run.sh.  Latencies are in microseconds.
local report = {}

function report.done(summary, latency, requests)
    local e = summary.errors
    local secs = summary.duration / 1e6
    io.write(string.format(
        "RESULT rps=%.0f p50=%d p99=%d p999=%d requests=%d " ..
        "errors=%d non2xx=%d\n",
        summary.requests / secs, latency:percentile(50),
        latency:percentile(99), latency:percentile(99.9), summary.requests,
        e.connect + e.read + e.write + e.timeout, e.status))
end

return report
