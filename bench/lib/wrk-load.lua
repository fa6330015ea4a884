-- wrk script of the benchmarks: one request shape from the environment, and a summary
-- line in JSON for bench/lib/wrk.ts to read.
--   WRK_METHOD  GET, PUT or POST (default GET)
--   WRK_PATH    the path; each "{key}" in it becomes a random number in [0, WRK_KEYS)
--   WRK_KEYS    how many distinct keys (default 1)
--   WRK_BODIES  a file of request bodies, one per line, sent in turn as application/json
--   WRK_HEADERS further request headers, as lines "Name: value"
local method = os.getenv("WRK_METHOD") or "GET"
local path = os.getenv("WRK_PATH") or "/"
local keys = tonumber(os.getenv("WRK_KEYS") or "1")
local keyed = string.find(path, "{key}", 1, true) ~= nil
local bodies = {}
local next_body = 0
local headers = {}

init = function(args)
  math.randomseed(os.time())
  for name, value in string.gmatch(os.getenv("WRK_HEADERS") or "", "([^:\n]+): ([^\n]*)") do
    headers[name] = value
  end
  local file = os.getenv("WRK_BODIES")
  if file then
    for line in io.lines(file) do
      bodies[#bodies + 1] = line
    end
    headers["Content-Type"] = "application/json"
  end
end

request = function()
  local p = path
  if keyed then
    p = string.gsub(path, "{key}", tostring(math.random(0, keys - 1)))
  end
  if #bodies > 0 then
    next_body = next_body % #bodies + 1
    return wrk.format(method, p, headers, bodies[next_body])
  end
  return wrk.format(method, p, headers)
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
