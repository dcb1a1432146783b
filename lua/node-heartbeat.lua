#!lua
--[[
  node-heartbeat: register or renew one member's lease and list the live members.

  The shard holding the leases may be unreachable for a while (its primary failing over):
  nobody can renew meanwhile, so every lease may look expired when it answers again. The
  first beat or sweep after such a gap (no beat from anyone for ARGV[4] ms) starts a quiet
  period of one lease time in which no sweep reaps anyone, whichever node sweeps first.
  A promoted replica may also have lost the latest writes, a member's lease among them: a
  lease missing without a tombstone in KEYS[3] was lost, not reaped, and is restored.

  KEYS[1] nodes     <prefix>mqtt:{nodes}         zset memberId -> lease deadline (ms, Redis TIME)
  KEYS[2] clock     <prefix>mqtt:{nodes}:clock   hash last (last beat, ms), quietUntil (ms)
  KEYS[3] reaped    <prefix>mqtt:{nodes}:reaped  zset memberId -> when it was reaped (ms)
  ARGV[1] memberId
  ARGV[2] lease ttl, ms
  ARGV[3] "1" registers the member; "0" only renews a lease that was not reaped
  ARGV[4] longest expected time between two beats of the cluster, ms (longer is a gap)

  Returns { 1, deadlineMs, { live memberIds }, restored 0|1 } while the lease is held,
          { 0, nowMs, { live memberIds }, 0 } when ARGV[3] is "0" and the member was reaped.
]]
local rcall = redis.call
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])

local last = tonumber(rcall('HGET', KEYS[2], 'last'))
if not last or now - last > tonumber(ARGV[4]) then
  local quiet = tonumber(rcall('HGET', KEYS[2], 'quietUntil')) or 0
  if quiet < now + ttl then rcall('HSET', KEYS[2], 'quietUntil', now + ttl) end
end
rcall('HSET', KEYS[2], 'last', now)

local held = true
local restored = 0
if ARGV[3] == '1' then
  rcall('ZREM', KEYS[3], ARGV[1])
elseif not rcall('ZSCORE', KEYS[1], ARGV[1]) then
  if rcall('ZSCORE', KEYS[3], ARGV[1]) then held = false else restored = 1 end
end
if held then rcall('ZADD', KEYS[1], now + ttl, ARGV[1]) end
local live = rcall('ZRANGEBYSCORE', KEYS[1], now, '+inf')
if held then return { 1, now + ttl, live, restored } end
return { 0, now, live, 0 }
