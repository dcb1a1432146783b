#!lua
--[[
  session-close: the connection of a session ended on its owner. Its will goes (aedes has
  published it or it was not due). A persistent session is parked (still owned, expiring
  after the session expiry unless a client resumes it); any other session is deleted. A
  caller whose epoch is stale changes nothing: the session and will belong to a newer
  connection.

  KEYS[1] meta      <prefix>mqtt:{c:<id>}:s
  KEYS[2] subs      <prefix>mqtt:{c:<id>}:subs
  KEYS[3] queue     <prefix>mqtt:{c:<id>}:q
  KEYS[4] out       <prefix>mqtt:{c:<id>}:o
  KEYS[5] incoming  <prefix>mqtt:{c:<id>}:in
  KEYS[6] will      <prefix>mqtt:{c:<id>}:will
  ARGV[1] epoch of the connection that ended
  ARGV[2] session expiry, ms (for a persistent session)

  Returns 1 when parked, 2 when deleted, 0 when the epoch was stale (nothing changed).
]]
local rcall = redis.call
local meta = rcall('HMGET', KEYS[1], 'epoch', 'persistent')
if meta[1] ~= ARGV[1] then return 0 end
if meta[2] ~= '1' then
  rcall('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
  return 2
end
rcall('DEL', KEYS[6])
rcall('HSET', KEYS[1], 'parked', '1')
for i = 1, 5 do rcall('PEXPIRE', KEYS[i], ARGV[2]) end
return 1
