#!lua
--[[
  session-mark: records how far the owner's journal is settled for a session: from each
  sender, the frames numbered below the floor hold nothing of the session's that is not
  acknowledged by its client or queued here. The reaper of that owner skips them when it
  replays the owner's journal to the session. Fenced by the epoch.

  KEYS[1] meta   <prefix>mqtt:{c:<id>}:s   field jw = "<owner>|<sender>:<floor>,..."
  ARGV[1] epoch of the writer ('' = unfenced)
  ARGV[2] the mark

  Returns 1 when recorded, 0 when the epoch was stale (nothing changed).
]]
local rcall = redis.call
if ARGV[1] ~= '' and rcall('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
rcall('HSET', KEYS[1], 'jw', ARGV[2])
return 1
