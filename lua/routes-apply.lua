#!lua
--[[
  routes-apply: change one member's route set and record the sequence number of the
  delta that carries the change to the peers.

  KEYS[1] filters   <prefix>mqtt:{r:<memberId>}:filters  set of topic filters
  KEYS[2] meta      <prefix>mqtt:{r:<memberId>}:meta     hash { seq }
  ARGV[1] seq of this delta; must be greater than the stored one
  ARGV[2] expiry of both keys, ms (renewed by the member's heartbeat)
  ARGV[3..n] "+<filter>" to add, "-<filter>" to remove (the caller sends at most 256)

  Returns { 1, seq } when applied, { 0, storedSeq } when ARGV[1] is stale (nothing changed).
]]
local rcall = redis.call
local stored = tonumber(rcall('HGET', KEYS[2], 'seq') or '0')
local seq = tonumber(ARGV[1])
if seq <= stored then return { 0, stored } end

local adds, removes = {}, {}
for i = 3, #ARGV do
  local change = ARGV[i]
  if string.sub(change, 1, 1) == '+' then
    adds[#adds + 1] = string.sub(change, 2)
  else
    removes[#removes + 1] = string.sub(change, 2)
  end
end
if #removes > 0 then rcall('SREM', KEYS[1], unpack(removes)) end
if #adds > 0 then rcall('SADD', KEYS[1], unpack(adds)) end
rcall('HSET', KEYS[2], 'seq', seq, 'v', 1)
rcall('PEXPIRE', KEYS[1], ARGV[2])
rcall('PEXPIRE', KEYS[2], ARGV[2])
return { 1, seq }
