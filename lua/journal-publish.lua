#!lua
--[[
  journal-publish: append a frame with QoS 1/2 messages to a member's journal and send it
  to the member's inbox, in one step: the frame is journaled if and only if it was sent,
  and both cost one command (the journal and the inbox share a slot).

  KEYS[1] journal   <prefix>{in:<member>}:j  stream of frames (field f)
  ARGV[1] the member's inbox channel <prefix>{in:<member>}
  ARGV[2] the frame
  ARGV[3] most entries the journal keeps (approximate trim)
  ARGV[4] '1': SPUBLISH (sharded pub/sub), '0': PUBLISH

  Returns the number of subscribers that received the frame.
]]
local rcall = redis.call
rcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'f', ARGV[2])
if ARGV[4] == '1' then
  return rcall('SPUBLISH', ARGV[1], ARGV[2])
end
return rcall('PUBLISH', ARGV[1], ARGV[2])
