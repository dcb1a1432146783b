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
  KEYS[4] frames    <prefix>mqtt:{nodes}:frames  hash memberId -> newest inbox frame version it reads
  ARGV[1] memberId
  ARGV[2] lease ttl, ms
  ARGV[3] "1" registers the member; "0" only renews a lease that was not reaped
  ARGV[4] longest expected time between two beats of the cluster, ms (longer is a gap)
  ARGV[5] newest inbox frame version the member reads (announced with every beat, so that
          a promoted replica that lost it has it again at the next one)

  Returns { 1, deadlineMs, { live memberIds }, restored 0|1, { versions } } while the lease is held,
          { 0, nowMs, { live memberIds }, 0, { versions } } when ARGV[3] is "0" and the member was reaped.
  versions: the frame version each live member announced, in the order of the live list,
  false for a member that announced none (a node of a release that does not).
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
if held then
  rcall('ZADD', KEYS[1], now + ttl, ARGV[1])
  rcall('HSET', KEYS[4], ARGV[1], ARGV[5])
end
local live = rcall('ZRANGEBYSCORE', KEYS[1], now, '+inf')
local versions = {}
if #live > 0 then versions = rcall('HMGET', KEYS[4], unpack(live)) end
if held then return { 1, now + ttl, live, restored, versions } end
return { 0, now, live, 0, versions }
