-- wrk script of the API benchmark (bench/api/run.py writes the data file and reads the result).
--
--   wrk -t1 -c16 -d15s -s bench/api/load.lua http://127.0.0.1:PORT -- DATA.lua
--
-- DATA.lua returns {method, service_tokens, users = {{token, path, ids}, ...}}: every request
-- is a random user's, with that user's token and a random service token; `path` may hold
-- "{id}", replaced by the user's next article id from `ids` (each thread walks the list from
-- its own offset, so marks touch different articles). Prints one JSON line at the end.

local data
local next_id = {}

function init(args)
  data = dofile(args[1])
  -- One stream of numbers per thread: os.time() alone would give every thread the same one.
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
  for i = 1, #data.users do
    next_id[i] = math.random(#data.users[i].ids > 0 and #data.users[i].ids or 1)
  end
end

function request()
  local i = math.random(#data.users)
  local user = data.users[i]
  local path = user.path
  if path:find("{id}", 1, true) then
    path = path:gsub("{id}", tostring(user.ids[next_id[i]]))
    next_id[i] = next_id[i] % #user.ids + 1
  end
  local headers = {
    ["X-Service-Token"] = data.service_tokens[math.random(#data.service_tokens)],
    ["X-Alt-User-Token"] = user.token,
  }
  return wrk.format(data.method, path, headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "errors": %d, "status_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect + e.read + e.write + e.status + e.timeout,
    e.status, e.timeout))
end
