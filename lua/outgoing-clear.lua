#!lua
--[[
  outgoing-clear: removes the queued packet sent with a packet identifier (PUBACK,
  PUBCOMP, or a packet not to be sent), and remembers its ref as acknowledged for a while
  (a dead node's journal replayed to this session must not queue it again).
  A connection that lost its session to a newer one (stale epoch) may still clear a
  message it sent, by its ref: its client acknowledged it, so it has it. Identifiers are
  per connection, so a stale one never clears by identifier.

  KEYS[1] meta   <prefix>mqtt:{c:<id>}:s
  KEYS[2] queue  <prefix>mqtt:{c:<id>}:q
  KEYS[3] out    <prefix>mqtt:{c:<id>}:o
  KEYS[4] done   <prefix>mqtt:{c:<id>}:d   zset ref -> when acknowledged (ms)
  ARGV[1] epoch of the writer ('' = unfenced)
  ARGV[2] packet identifier
  ARGV[3] how long an acknowledged ref is remembered, ms
  ARGV[4] ref of the message the writer sent with that identifier ('' when unknown)

  Returns the removed packet, or false when there was none, or the epoch was stale and
  no message ref was given.
]]
local rcall = redis.call
local ref
if ARGV[1] ~= '' and rcall('HGET', KEYS[1], 'epoch') ~= ARGV[1] then
  ref = ARGV[4]
  if ref == '' or string.sub(ref, 1, 1) == '~' or not rcall('ZSCORE', KEYS[2], ref) then return false end
  local id = rcall('HGET', KEYS[3], 'r' .. ref)
  if id and rcall('HGET', KEYS[3], 'm' .. id) == ref then rcall('HDEL', KEYS[3], 'm' .. id) end
else
  ref = rcall('HGET', KEYS[3], 'm' .. ARGV[2])
  if not ref then return false end
  rcall('HDEL', KEYS[3], 'm' .. ARGV[2])
end
local packet = rcall('HGET', KEYS[3], 'p' .. ref)
rcall('HDEL', KEYS[3], 'p' .. ref, 'r' .. ref)
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
