#!lua
--[[
  session-open: a client connects on this node. Takes the session over atomically: bumps
  the epoch (the fencing token every later write must carry), makes this member the owner,
  and applies clean start. The caller tells the previous owner to close its connection.

  KEYS[1] meta      <prefix>mqtt:{c:<id>}:s     hash { owner, epoch, persistent, parked }
  KEYS[2] subs      <prefix>mqtt:{c:<id>}:subs  hash filter -> subscription
  KEYS[3] queue     <prefix>mqtt:{c:<id>}:q     zset of outgoing refs
  KEYS[4] out       <prefix>mqtt:{c:<id>}:o     hash of outgoing packets
  KEYS[5] incoming  <prefix>mqtt:{c:<id>}:in    hash of inbound QoS 2 packets
  ARGV[1] memberId of the new owner
  ARGV[2] clean: 1 discards any previous session [MQTT-3.1.2-6], 0 resumes it
  ARGV[3] persistent: 1 when the session outlives its connection (clean session 0)

  The epoch is max(previous + 1, Redis TIME in ms): strictly increasing, and still
  increasing after the meta hash was deleted by a clean disconnect.
  Returns { epoch, previousOwner ('' if none), previousEpoch (0 if none), present (1/0) }.
]]
local rcall = redis.call
local prev = rcall('HMGET', KEYS[1], 'owner', 'epoch', 'persistent')
local previousEpoch = tonumber(prev[2] or '0')
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local epoch = math.max(previousEpoch + 1, now)

local resumable = prev[3] == '1'
local present = 0
if ARGV[2] == '0' and resumable then present = 1 end
if present == 0 then rcall('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5]) end

rcall('HSET', KEYS[1], 'owner', ARGV[1], 'epoch', string.format('%d', epoch), 'persistent', ARGV[3])
rcall('HDEL', KEYS[1], 'parked')
for i = 1, 5 do rcall('PERSIST', KEYS[i]) end
return { string.format('%d', epoch), prev[1] or '', string.format('%d', previousEpoch), present }
