#!lua
--[[
  outgoing-enqueue: appends a QoS 1/2 message to a session's outgoing queue, once per ref
  (origin broker id and counter: a message forwarded twice is queued once, and one the
  client acknowledged lately is not queued again). The queue is capped: beyond the cap
  the oldest entries are dropped.

  KEYS[1] meta   <prefix>mqtt:{c:<id>}:s
  KEYS[2] queue  <prefix>mqtt:{c:<id>}:q   zset ref -> enqueue order
  KEYS[3] out    <prefix>mqtt:{c:<id>}:o   hash p<ref> packet, r<ref> message id, m<id> ref, seq
  KEYS[4] done   <prefix>mqtt:{c:<id>}:d   zset ref -> when acknowledged (ms)
  ARGV[1] epoch of the writer ('' = unfenced)
  ARGV[2] cap (entries)
  ARGV[3] ref
  ARGV[4] packet

  Returns { status, dropped, owner }: status 1 queued, 2 already queued or acknowledged, 0 stale epoch
  (nothing changed; owner is the session's current owner, '' if there is no session).
]]
local rcall = redis.call
if ARGV[1] ~= '' then
  local meta = rcall('HMGET', KEYS[1], 'epoch', 'owner')
  if meta[1] ~= ARGV[1] then return { 0, 0, meta[2] or '' } end
end
local ref = ARGV[3]
if rcall('ZSCORE', KEYS[2], ref) or rcall('ZSCORE', KEYS[4], ref) then return { 2, 0, '' } end
local seq = rcall('HINCRBY', KEYS[3], 'seq', 1)
rcall('ZADD', KEYS[2], seq, ref)
rcall('HSET', KEYS[3], 'p' .. ref, ARGV[4])

local dropped = 0
local over = rcall('ZCARD', KEYS[2]) - tonumber(ARGV[2])
if over > 0 then
  local oldest = rcall('ZPOPMIN', KEYS[2], over)
  for i = 1, #oldest, 2 do
    local old = oldest[i]
    local id = rcall('HGET', KEYS[3], 'r' .. old)
    if id and rcall('HGET', KEYS[3], 'm' .. id) == old then rcall('HDEL', KEYS[3], 'm' .. id) end
    rcall('HDEL', KEYS[3], 'p' .. old, 'r' .. old)
    dropped = dropped + 1
  end
end
-- A parked session expires as a whole: keys created while parked get the same deadline.
local ttl = rcall('PTTL', KEYS[1])
if ttl > 0 then
  rcall('PEXPIRE', KEYS[2], ttl)
  rcall('PEXPIRE', KEYS[3], ttl)
end
return { 1, dropped, '' }
