#!lua
--[[
  outgoing-clear: removes the queued packet sent with a packet identifier (PUBACK,
  PUBCOMP, or a packet not to be sent), and remembers its ref as acknowledged for a while
  (a dead node's journal replayed to this session must not queue it again).

  KEYS[1] meta   <prefix>mqtt:{c:<id>}:s
  KEYS[2] queue  <prefix>mqtt:{c:<id>}:q
  KEYS[3] out    <prefix>mqtt:{c:<id>}:o
  KEYS[4] done   <prefix>mqtt:{c:<id>}:d   zset ref -> when acknowledged (ms)
  ARGV[1] epoch of the writer ('' = unfenced)
  ARGV[2] packet identifier
  ARGV[3] how long an acknowledged ref is remembered, ms

  Returns the removed packet, or false when there was none or the epoch was stale.
]]
local rcall = redis.call
if ARGV[1] ~= '' and rcall('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return false end
local ref = rcall('HGET', KEYS[3], 'm' .. ARGV[2])
if not ref then return false end
local packet = rcall('HGET', KEYS[3], 'p' .. ref)
rcall('HDEL', KEYS[3], 'm' .. ARGV[2], 'p' .. ref, 'r' .. ref)
rcall('ZREM', KEYS[2], ref)
-- A PUBREL's ref (~<id>) is no message: its message was remembered when PUBREC replaced it.
if string.sub(ref, 1, 1) ~= '~' then
  local t = rcall('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  rcall('ZADD', KEYS[4], now, ref)
  rcall('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - tonumber(ARGV[3]))
  rcall('PEXPIRE', KEYS[4], ARGV[3])
end
return packet
