#!lua
--[[
  session-reap: the reaper of a dead member claims one of its sessions. The will of the
  connection the dead member served is taken (returned, deleted: exactly one publisher);
  a persistent session is adopted by a live member (parked there, new epoch); any other
  session is deleted. A session that has moved on since (another owner) is left alone.

  KEYS[1] meta      <prefix>mqtt:{c:<id>}:s
  KEYS[2] subs      <prefix>mqtt:{c:<id>}:subs
  KEYS[3] queue     <prefix>mqtt:{c:<id>}:q
  KEYS[4] out       <prefix>mqtt:{c:<id>}:o
  KEYS[5] incoming  <prefix>mqtt:{c:<id>}:in
  KEYS[6] will      <prefix>mqtt:{c:<id>}:will
  ARGV[1] memberId of the dead owner
  ARGV[2] memberId of the adopting member
  ARGV[3] session expiry, ms (the adopted session is parked)

  Returns { outcome, will or false, epoch }: outcome 1 adopted, 2 deleted, 0 not owned by
  the dead member (nothing changed).
]]
local rcall = redis.call
local meta = rcall('HMGET', KEYS[1], 'owner', 'epoch', 'persistent')
if meta[1] ~= ARGV[1] then return { 0, false, '' } end
local will = rcall('GET', KEYS[6])
rcall('DEL', KEYS[6])
if meta[3] ~= '1' then
  rcall('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
  return { 2, will, '' }
end
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local epoch = string.format('%d', math.max(tonumber(meta[2] or '0') + 1, now))
rcall('HSET', KEYS[1], 'owner', ARGV[2], 'epoch', epoch, 'parked', '1')
-- Parked as if its client had just left: expires unless resumed.
if rcall('PTTL', KEYS[1]) < 0 then
  for i = 1, 5 do rcall('PEXPIRE', KEYS[i], ARGV[3]) end
end
return { 1, will, epoch }
