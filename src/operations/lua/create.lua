-- Create an operation and take its prefix lock in one step.
-- KEYS: 1 lock, 2 op, 3 outbox, 4 pending set, 5 recent zset, 6 audit stream, 7 open zset, 8 outbox seq, 9 active set
-- ARGV: 1 opId, 2 json, 3 createdAt, 4 expiresAt, 5 nItems, items..., then audit field/value pairs
local got = redis.call('SET', KEYS[1], ARGV[1], 'NX')
if not got then
  return {0, redis.call('GET', KEYS[1]) or ''}
end
redis.call('HSET', KEYS[2], 'v', 1, 'json', ARGV[2])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[7], ARGV[4], ARGV[1])
redis.call('SADD', KEYS[9], ARGV[1])
local n = tonumber(ARGV[5])
for i = 1, n do
  local seq = redis.call('INCR', KEYS[8])
  redis.call('RPUSH', KEYS[3], seq .. '|' .. ARGV[5 + i])
end
if n > 0 then redis.call('SADD', KEYS[4], ARGV[1]) end
local fields = {}
for i = 6 + n, #ARGV do fields[#fields + 1] = ARGV[i] end
if #fields > 0 then redis.call('XADD', KEYS[6], '*', unpack(fields)) end
return {1, ''}
