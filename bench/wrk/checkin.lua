-- wrk script: single POST /v1/checkins over 20 sessions of event E (see bench/wrk/start-node.sh).
-- TOKEN=<api token> wrk -t2 -c32 -d5s -s bench/wrk/checkin.lua --latency URL
-- Every request is a new check-in: ids are unique per thread (`tid`, set by `setup` in each
-- thread's own Lua state) and per run (`run`, the start second), so none is answered as a retry.
local threads = 0
local counter = 0
local run = os.time()
setup = function(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
request = function()
  counter = counter + 1
  local s = counter % 20
  local body = string.format('{"id":"w%d-%d-%d","event_id":"E","session_id":"s%d","member_id":"M%d","direction":"in","at":"2026-04-16T09:10:00Z"}', run, tid, counter, s, counter % 500)
  return wrk.format("POST", "/v1/checkins", {["Content-Type"]="application/json", ["Authorization"]="Bearer " .. os.getenv("TOKEN")}, body)
end
