#!lua
--[[
  outgoing-acked: removes the queued messages a connection's client acknowledged (a batch
  of PUBACKs), as outgoing-clear does for one: each ref is remembered as acknowledged for
  a while. With a stale epoch (the connection lost its session to a newer one) a message
  is cleared by the ref the writer sent with that identifier, never by the identifier.

  KEYS[1] meta   <prefix>mqtt:{c:<id>}:s
  KEYS[2] queue  <prefix>mqtt:{c:<id>}:q
  KEYS[3] out    <prefix>mqtt:{c:<id>}:o
  KEYS[4] done   <prefix>mqtt:{c:<id>}:d   zset ref -> when acknowledged (ms)
  ARGV[1] epoch of the writer ('' = unfenced)
  ARGV[2] how long an acknowledged ref is remembered, ms
  ARGV[3..n] packet identifier, ref ('' when unknown), packet identifier, ref...

  Returns the number of messages removed.
]]
local rcall = redis.call
local fenced = ARGV[1] == '' or rcall('HGET', KEYS[1], 'epoch') == ARGV[1]
local removed = {}
for i = 3, #ARGV - 1, 2 do
  local id, ref = ARGV[i], ARGV[i + 1]
  if fenced then
    ref = rcall('HGET', KEYS[3], 'm' .. id)
    if ref then rcall('HDEL', KEYS[3], 'm' .. id) end
  elseif ref == '' or string.sub(ref, 1, 1) == '~' or not rcall('ZSCORE', KEYS[2], ref) then
    ref = false
  else
    local sent = rcall('HGET', KEYS[3], 'r' .. ref)
    if sent and rcall('HGET', KEYS[3], 'm' .. sent) == ref then rcall('HDEL', KEYS[3], 'm' .. sent) end
  end
  if ref and rcall('HEXISTS', KEYS[3], 'p' .. ref) == 1 then
    rcall('HDEL', KEYS[3], 'p' .. ref, 'r' .. ref)
    rcall('ZREM', KEYS[2], ref)
    removed[#removed + 1] = ref
  end
end
if #removed > 0 then
  local t = rcall('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local args = {}
  for _, ref in ipairs(removed) do
    if string.sub(ref, 1, 1) ~= '~' then
      args[#args + 1] = now
      args[#args + 1] = ref
    end
  end
  if #args > 0 then
    rcall('ZADD', KEYS[4], unpack(args))
    rcall('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - tonumber(ARGV[2]))
    rcall('PEXPIRE', KEYS[4], ARGV[2])
  end
end
return #removed
