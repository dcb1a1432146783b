#!lua
--[[
  node-heartbeat: register or renew one member's lease and list the live members.

  KEYS[1] nodes     <prefix>mqtt:{nodes}  zset memberId -> lease deadline (ms, Redis TIME)
  ARGV[1] memberId
  ARGV[2] lease ttl, ms
  ARGV[3] "1" registers the member; "0" only renews a lease that still exists

  Returns { 1, deadlineMs, { live memberIds } } while the lease is held,
          { 0, nowMs, { live memberIds } } when ARGV[3] is "0" and the lease was reaped.
]]
local rcall = redis.call
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local held = true
if ARGV[3] == '1' or rcall('ZSCORE', KEYS[1], ARGV[1]) then
  rcall('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
else
  held = false
end
local live = rcall('ZRANGEBYSCORE', KEYS[1], now, '+inf')
if held then return { 1, now + tonumber(ARGV[2]), live } end
return { 0, now, live }
