#!lua
--[[
  outgoing-update: records the packet identifier a queued message was sent with, or
  replaces the message sent with that identifier by a PUBREL (QoS 2, same position: the
  message was received, its ref is remembered as acknowledged for a while).

  KEYS[1] meta   <prefix>mqtt:{c:<id>}:s
  KEYS[2] queue  <prefix>mqtt:{c:<id>}:q
  KEYS[3] out    <prefix>mqtt:{c:<id>}:o
  KEYS[4] done   <prefix>mqtt:{c:<id>}:d   zset ref -> when acknowledged (ms)
  ARGV[1] epoch of the writer ('' = unfenced)
  ARGV[2] ref of the packet
  ARGV[3] packet identifier
  ARGV[4] packet (stored when it replaces another one)
  ARGV[5] how long an acknowledged ref is remembered, ms

  Returns 1 when updated, -1 when no queued packet has that ref or identifier, 0 when the
  epoch was stale (nothing changed).
]]
local rcall = redis.call
if ARGV[1] ~= '' and rcall('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
local ref, id = ARGV[2], ARGV[3]
if rcall('HEXISTS', KEYS[3], 'p' .. ref) == 1 then
  local old = rcall('HGET', KEYS[3], 'r' .. ref)
  if old and old ~= id and rcall('HGET', KEYS[3], 'm' .. old) == ref then rcall('HDEL', KEYS[3], 'm' .. old) end
  rcall('HSET', KEYS[3], 'r' .. ref, id, 'm' .. id, ref)
  return 1
end
local other = rcall('HGET', KEYS[3], 'm' .. id)
if not other then return -1 end
local score = rcall('ZSCORE', KEYS[2], other)
if not score then return -1 end
rcall('ZREM', KEYS[2], other)
rcall('HDEL', KEYS[3], 'p' .. other, 'r' .. other)
if string.sub(other, 1, 1) ~= '~' then
  local t = rcall('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  rcall('ZADD', KEYS[4], now, other)
  rcall('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - tonumber(ARGV[5]))
  rcall('PEXPIRE', KEYS[4], ARGV[5])
end
rcall('ZADD', KEYS[2], score, ref)
rcall('HSET', KEYS[3], 'p' .. ref, ARGV[4], 'r' .. ref, id, 'm' .. id, ref)
return 1
