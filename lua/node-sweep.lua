#!lua
--[[
  node-sweep: remove members whose lease deadline has passed. The caller becomes the
  reaper of every member returned: each expired member is returned to exactly one caller.
  Only a caller that renewed its own lease recently may reap: a sweep sent before an
  outage of this shard and run after it (a failover) would otherwise reap members whose
  renewals are still queued behind it.

  KEYS[1] nodes     <prefix>mqtt:{nodes}  zset memberId -> lease deadline (ms)
  ARGV[1] most members to remove in this call
  ARGV[2] the caller's memberId
  ARGV[3] least time (ms) the caller's own lease must still run

  Returns { memberId, ... } removed by this call (possibly empty; empty too when the
  caller's lease is missing or runs out sooner than ARGV[3]).
]]
local rcall = redis.call
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local own = rcall('ZSCORE', KEYS[1], ARGV[2])
if not own or tonumber(own) - now < tonumber(ARGV[3]) then return {} end
local dead = rcall('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, tonumber(ARGV[1]))
if #dead > 0 then rcall('ZREM', KEYS[1], unpack(dead)) end
return dead
