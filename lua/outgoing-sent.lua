#!lua
--[[
  outgoing-sent: records the packet identifiers a batch of queued messages is about to be
  sent with (a connection replaying its queue), fenced by the epoch: one call per batch
  instead of one outgoing-update per message. A ref no longer queued (acknowledged or
  dropped meanwhile) is skipped.

  KEYS[1] meta   <prefix>mqtt:{c:<id>}:s
  KEYS[2] out    <prefix>mqtt:{c:<id>}:o
  ARGV[1] epoch of the writer ('' = unfenced)
  ARGV[2..n] ref, packet identifier, ref, packet identifier...

  Returns the number of refs recorded, or -1 when the epoch was stale (nothing changed).
]]
local rcall = redis.call
if ARGV[1] ~= '' and rcall('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return -1 end
local recorded = 0
for i = 2, #ARGV - 1, 2 do
  local ref, id = ARGV[i], ARGV[i + 1]
  if rcall('HEXISTS', KEYS[2], 'p' .. ref) == 1 then
    local old = rcall('HGET', KEYS[2], 'r' .. ref)
    if old and old ~= id and rcall('HGET', KEYS[2], 'm' .. old) == ref then rcall('HDEL', KEYS[2], 'm' .. old) end
    rcall('HSET', KEYS[2], 'r' .. ref, id, 'm' .. id, ref)
    recorded = recorded + 1
  end
end
return recorded
