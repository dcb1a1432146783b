#!lua
--[[
  retained-unindex: remove a topic from its retained-index partition, but only if no
  write has touched the entry since the caller read its score. A writer stores the
  message first and then bumps the score (ZINCRBY), so a delete racing a write can
  leave an index entry without a message (skipped by readers), never a message
  without its index entry.

  KEYS[1] partition <prefix>mqtt:{ri:<first level>}  zset topic -> write counter
  ARGV[1] topic
  ARGV[2] score the caller read before deleting the message

  Returns 1 when removed, 0 when the entry changed or was already gone.
]]
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
