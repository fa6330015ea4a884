-- wrk script of the read model benchmark: GET /domains/<d> on a random domain of the
-- preloaded key space (d0.example .. d<N-1>.example, N from WRK_DOMAINS), and a summary
-- line in JSON for bench/lib/wrk.ts to read.
local domains = tonumber(os.getenv("WRK_DOMAINS") or "1000")
local path = os.getenv("WRK_PATH")

init = function(args)
  math.randomseed(os.time())
end

request = function()
  if path then
    return wrk.format("GET", path)
  end
  return wrk.format("GET", "/domains/d" .. math.random(0, domains - 1) .. ".example")
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"seconds":%.3f,"non2xx":%d,"errors":%d,' ..
      '"p50":%.3f,"p95":%.3f,"p99":%.3f,"max":%.3f}\n',
    summary.requests, summary.duration / 1e6, e.status,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
