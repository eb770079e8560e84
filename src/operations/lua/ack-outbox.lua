-- Mark the head outbox item delivered (by sequence number) and drop it; clear the pending flag when empty.
-- The delivered marker of a finished operation expires with its outbox (its retention, set when it finished).
-- KEYS: 1 outbox, 2 pending set, 3 delivered marker
-- ARGV: 1 seq, 2 opId
local ttl = redis.call('PTTL', KEYS[1])
local head = redis.call('LINDEX', KEYS[1], 0)
if head then
  local seq = string.match(head, '^(%d+)|')
  if seq == ARGV[1] then redis.call('LPOP', KEYS[1]) end
end
redis.call('SET', KEYS[3], ARGV[1], 'KEEPTTL')
if ttl > 0 and redis.call('PTTL', KEYS[3]) < 0 then redis.call('PEXPIRE', KEYS[3], ttl) end
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
return 1
