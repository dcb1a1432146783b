#!lua
--[[
  node-sweep: remove members whose lease deadline has passed. The caller becomes the
  reaper of every member returned: each expired member is returned to exactly one caller,
  and leaves a tombstone (a lease found missing without one was lost, see node-heartbeat).
  Nobody is reaped while the shard is in a quiet period (see node-heartbeat) or when no
  member has beaten for ARGV[4] ms (this sweep is the first call after a gap: it starts
  the quiet period). Only a caller that renewed its own lease recently may reap.

  KEYS[1] nodes     <prefix>mqtt:{nodes}         zset memberId -> lease deadline (ms)
  KEYS[2] clock     <prefix>mqtt:{nodes}:clock   hash last (last beat, ms), quietUntil (ms)
  KEYS[3] reaped    <prefix>mqtt:{nodes}:reaped  zset memberId -> when it was reaped (ms)
  KEYS[4] frames    <prefix>mqtt:{nodes}:frames  hash memberId -> frame version (see node-heartbeat)
  ARGV[1] most members to remove in this call
  ARGV[2] the caller's memberId
  ARGV[3] least time (ms) the caller's own lease must still run
  ARGV[4] longest expected time between two beats of the cluster, ms
  ARGV[5] lease ttl, ms (the length of a quiet period)
  ARGV[6] how long tombstones are kept, ms

  Returns { memberId, ... } removed by this call (possibly empty).
]]
local rcall = redis.call
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local last = tonumber(rcall('HGET', KEYS[2], 'last'))
if not last or now - last > tonumber(ARGV[4]) then
  local quiet = tonumber(rcall('HGET', KEYS[2], 'quietUntil')) or 0
  if quiet < now + tonumber(ARGV[5]) then rcall('HSET', KEYS[2], 'quietUntil', now + tonumber(ARGV[5])) end
  return {}
end
if now < (tonumber(rcall('HGET', KEYS[2], 'quietUntil')) or 0) then return {} end

local own = rcall('ZSCORE', KEYS[1], ARGV[2])
if not own or tonumber(own) - now < tonumber(ARGV[3]) then return {} end
local dead = rcall('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, tonumber(ARGV[1]))
if #dead > 0 then
  rcall('ZREM', KEYS[1], unpack(dead))
  rcall('HDEL', KEYS[4], unpack(dead))
  for _, m in ipairs(dead) do rcall('ZADD', KEYS[3], now, m) end
end
rcall('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[6]))
return dead
