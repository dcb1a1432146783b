#!lua
--[[
  node-sweep: remove members whose lease deadline has passed. The caller becomes the
  reaper of every member returned: each expired member is returned to exactly one caller.

  KEYS[1] nodes     <prefix>mqtt:{nodes}  zset memberId -> lease deadline (ms)
  ARGV[1] most members to remove in this call

  Returns { memberId, ... } removed by this call (possibly empty).
]]
local rcall = redis.call
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local dead = rcall('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, tonumber(ARGV[1]))
if #dead > 0 then rcall('ZREM', KEYS[1], unpack(dead)) end
return dead
