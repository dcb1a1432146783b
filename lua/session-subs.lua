#!lua
--[[
  session-subs: changes the subscriptions of a session, fenced by its epoch.

  KEYS[1] meta  <prefix>mqtt:{c:<id>}:s
  KEYS[2] subs  <prefix>mqtt:{c:<id>}:subs  hash filter -> subscription JSON
  ARGV[1] epoch of the writer ('' = unfenced: no session was opened, as in the contract tests)
  ARGV[2] operation: 'add' (pairs follow), 'remove' (filters follow) or 'clear'
  ARGV[3..n] filter, subscription, filter, subscription... for 'add'; filters for 'remove'

  Returns 1 when applied, 0 when the epoch was stale (nothing changed).
]]
local rcall = redis.call
if ARGV[1] ~= '' and rcall('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
local op = ARGV[2]
if op == 'clear' then
  rcall('DEL', KEYS[2])
elseif op == 'add' and #ARGV > 3 then
  rcall('HSET', KEYS[2], unpack(ARGV, 3))
elseif op == 'remove' and #ARGV > 2 then
  rcall('HDEL', KEYS[2], unpack(ARGV, 3))
end
return 1
