#!lua
--[[
  session-put: sets or deletes one field of a session's inbound QoS 2 store, or its will,
  fenced by the session epoch.

  KEYS[1] meta    <prefix>mqtt:{c:<id>}:s
  KEYS[2] target  <prefix>mqtt:{c:<id>}:in (hash) or <prefix>mqtt:{c:<id>}:will (string)
  ARGV[1] epoch of the writer ('' = unfenced)
  ARGV[2] operation: 'hset' / 'hdel' (field, value) on the hash, 'set' / 'del' on the string,
          'clear' deletes the target
  ARGV[3] field (hash operations)
  ARGV[4] value ('hset' and 'set')

  Returns 1 when applied, -1 when 'hdel' found no such field, 0 when the epoch was stale.
]]
local rcall = redis.call
if ARGV[1] ~= '' and rcall('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
local op = ARGV[2]
if op == 'hset' then
  rcall('HSET', KEYS[2], ARGV[3], ARGV[4])
elseif op == 'hdel' then
  if rcall('HDEL', KEYS[2], ARGV[3]) == 0 then return -1 end
elseif op == 'set' then
  rcall('SET', KEYS[2], ARGV[4])
else
  rcall('DEL', KEYS[2])
end
-- Keys written while the session is parked expire with it.
local ttl = rcall('PTTL', KEYS[1])
if ttl > 0 then rcall('PEXPIRE', KEYS[2], ttl) end
return 1
