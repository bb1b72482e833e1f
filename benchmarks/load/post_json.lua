-- wrk script: POST one JSON body with the API key header; at the end print one line
-- "LOAD_RESULT {...}" (wrk's summary, latency percentiles, responses counted by status class).
--
-- Read from the environment (so the key never appears on a command line or in a file):
--   ATTRITION_LOAD_BODY  path of the JSON body to send (one record, or {"records": [...]})
--   ATTRITION_LOAD_KEY   the API key (X-API-Key header)
--   ATTRITION_LOAD_DELAY_MS  optional: each connection waits this long before its next request
--                            (a paced load instead of as fast as the server answers)
--
--   wrk -t2 -c16 -d60s --latency -s benchmarks/load/post_json.lua http://127.0.0.1:8000/v1/predict

local body_path = assert(os.getenv("ATTRITION_LOAD_BODY"), "set ATTRITION_LOAD_BODY to the body's file")
local key = assert(os.getenv("ATTRITION_LOAD_KEY"), "set ATTRITION_LOAD_KEY to an API key")
local file = assert(io.open(body_path, "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = key

local delay_ms = tonumber(os.getenv("ATTRITION_LOAD_DELAY_MS") or "0")
if delay_ms > 0 then
  delay = function()
    return delay_ms
  end
end

-- Per thread: responses by status class (wrk's own errors.status counts only >= 400); 503s also
-- on their own: the API's backpressure when its prediction log is full (nothing was predicted).
ok, not_ok, busy = 0, 0, 0

response = function(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    not_ok = not_ok + 1
    if status == 503 then
      busy = busy + 1
    end
  end
end

local threads = {}

setup = function(thread)
  table.insert(threads, thread)
end

local function ms(microseconds)
  return microseconds / 1000.0
end

done = function(summary, latency, requests)
  local total_ok, total_not_ok, total_busy = 0, 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_not_ok = total_not_ok + thread:get("not_ok")
    total_busy = total_busy + thread:get("busy")
  end
  local e = summary.errors
  io.write(string.format(
    'LOAD_RESULT {"requests": %d, "seconds": %.6f, "bytes": %d, "responses_2xx": %d, ' ..
    '"responses_not_2xx": %d, "responses_503": %d, "errors_connect": %d, "errors_read": %d, "errors_write": %d, ' ..
    '"errors_timeout": %d, "errors_status": %d, "latency_mean_ms": %.3f, "latency_max_ms": %.3f, ' ..
    '"p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "p999_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6, summary.bytes, total_ok, total_not_ok, total_busy,
    e.connect, e.read, e.write, e.timeout, e.status, ms(latency.mean), ms(latency.max),
    ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(99)),
    ms(latency:percentile(99.9))))
end
