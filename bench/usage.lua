-- wrk script for bench/usage.py: POST /api/v1/usage/consume for a random
-- user of a range, each call with its own idempotency key; counts the
-- answers by status per thread and prints them at the end.
-- args: first_user_id last_user_id run_prefix bearer_key
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  lo, hi, prefix, key = tonumber(args[1]), tonumber(args[2]), args[3], args[4]
  math.randomseed(os.time() * 1000 + tid)
  n, ok, refused, other = 0, 0, 0, 0
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key }
end

function request()
  n = n + 1
  local body = string.format(
    '{"user_id":%d,"kind":"article","amount":1,"idempotency_key":"%s-%d-%d"}',
    math.random(lo, hi), prefix, tid, n)
  return wrk.format("POST", "/api/v1/usage/consume", headers, body)
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1
  elseif status == 429 then refused = refused + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local o, r, x = 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); r = r + t:get("refused"); x = x + t:get("other")
  end
  io.write(string.format("STATUS ok=%d refused=%d other=%d\n", o, r, x))
end
