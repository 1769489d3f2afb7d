-- report.lua: the done() hook shared by the bench/lua scripts. It prints one
-- line that bench/run.sh parses, after wrk's own summary:
--
--   wrk-result requests=N duration_us=N rps=F p50_us=N p90_us=N p99_us=N
--     max_us=N non2xx=N connect=N read=N write=N timeout=N
--
-- (on one line). Latencies are in microseconds. non2xx is what wrk prints as
-- "Non-2xx or 3xx responses" (in wrk 4.1 it counts statuses above 399).
local report = {}

function report.done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  local rps = 0
  if secs > 0 then
    rps = summary.requests / secs
  end
  io.write(string.format(
    "wrk-result requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, rps,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end

return report
