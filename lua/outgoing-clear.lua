#!lua
--[[
  outgoing-clear: removes the queued packet sent with a packet identifier (PUBACK,
  PUBCOMP, or a packet not to be sent).

  KEYS[1] meta   <prefix>mqtt:{c:<id>}:s
  KEYS[2] queue  <prefix>mqtt:{c:<id>}:q
  KEYS[3] out    <prefix>mqtt:{c:<id>}:o
  ARGV[1] epoch of the writer ('' = unfenced)
  ARGV[2] packet identifier

  Returns the removed packet, or false when there was none or the epoch was stale.
]]
local rcall = redis.call
if ARGV[1] ~= '' and rcall('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return false end
local ref = rcall('HGET', KEYS[3], 'm' .. ARGV[2])
if not ref then return false end
local packet = rcall('HGET', KEYS[3], 'p' .. ref)
rcall('HDEL', KEYS[3], 'm' .. ARGV[2], 'p' .. ref, 'r' .. ref)
rcall('ZREM', KEYS[2], ref)
return packet
