-- wrk script of the UI benchmark for requests that bench/api/load.lua does not make: pages of
-- alt-frontend (a session cookie per user) and auth-service's validate call (a JSON body).
-- bench/ui/run.py writes the data file and reads the result.
--
--   wrk -t1 -c16 -d15s -s bench/ui/load.lua http://127.0.0.1:PORT -- DATA.lua
--
-- DATA.lua returns {method, service_tokens, users = {{headers, path, body, ids}, ...}}: every
-- request is a random user's, with that user's headers (and body), plus a random service token
-- when `service_tokens` is not empty; `path` may hold "{id}", replaced by the user's next article
-- id from `ids`. Prints one JSON line at the end, as bench/api/load.lua does; an answer other
-- than 200 below 400 (a redirect to the login page: the session no longer works) counts as an
-- error too (wrk counts only 4xx and 5xx).

local data
local next_id = {}
local threads = {}
unexpected = 0 -- per thread, read by done() through thread:get

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  data = dofile(args[1])
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
  local headers = {}
  for name, value in pairs(user.headers) do
    headers[name] = value
  end
  if #data.service_tokens > 0 then
    headers["X-Service-Token"] = data.service_tokens[math.random(#data.service_tokens)]
  end
  return wrk.format(data.method, path, headers, user.body)
end

function response(status, headers, body)
  if status ~= 200 and status < 400 then
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local other = 0
  for _, thread in ipairs(threads) do
    other = other + thread:get("unexpected")
  end
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "errors": %d, "status_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.status + e.timeout + other, e.status + other, e.timeout))
end
