-- Take one break-glass use if fewer than max were taken in the window (a sliding window of timestamps).
-- KEYS: 1 uses zset. ARGV: 1 now ms, 2 window ms, 3 max uses, 4 member (operation id)
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, tonumber(ARGV[1]) - tonumber(ARGV[2]))
local used = redis.call('ZCARD', KEYS[1])
if used >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, used, oldest[2] or '0'}
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, used + 1, '0'}
