#!lua flags=no-writes
--[[
  routes-read: one member's route set and the sequence number it is current to, read
  together so that a peer can resume from deltas after that number.

  KEYS[1] filters   <prefix>mqtt:{r:<memberId>}:filters  set of topic filters
  KEYS[2] meta      <prefix>mqtt:{r:<memberId>}:meta     hash { seq }

  Returns { seq, { filter, ... } } (seq 0 and no filters for an unknown member).
]]
local rcall = redis.call
local seq = tonumber(rcall('HGET', KEYS[2], 'seq') or '0')
return { seq, rcall('SMEMBERS', KEYS[1]) }
