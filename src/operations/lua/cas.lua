-- Compare-and-set an operation record, with its side effects, atomically.
-- KEYS: 1 op, 2 lock, 3 outbox, 4 pending set, 5 audit stream, 6 open zset, 7 outbox seq, 8 active set,
--       9 delivered marker, 10 card fingerprint
-- ARGV: 1 expected version, 2 new json, 3 opId, 4 terminal (1/0), 5 leave open set (1/0), 6 retention ms of a
--       finished record, 7 enter open set at (0: no), 8 nItems, items..., then nAudit, then for each audit entry:
--       nFields, field/value pairs...
local v = redis.call('HGET', KEYS[1], 'v')
if v ~= ARGV[1] then return -1 end
local nv = tonumber(v) + 1
redis.call('HSET', KEYS[1], 'v', nv, 'json', ARGV[2])
if ARGV[4] == '1' then
  if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
  redis.call('SREM', KEYS[8], ARGV[3])
end
if ARGV[5] == '1' then redis.call('ZREM', KEYS[6], ARGV[3]) end
if ARGV[7] ~= '0' then redis.call('ZADD', KEYS[6], ARGV[7], ARGV[3]) end
local n = tonumber(ARGV[8])
for i = 1, n do
  local seq = redis.call('INCR', KEYS[7])
  redis.call('RPUSH', KEYS[3], seq .. '|' .. ARGV[8 + i])
end
if n > 0 then redis.call('SADD', KEYS[4], ARGV[3]) end
local idx = 9 + n
local nAudit = tonumber(ARGV[idx])
idx = idx + 1
for _ = 1, nAudit do
  local nf = tonumber(ARGV[idx])
  local fields = {}
  for j = 1, nf do fields[j] = ARGV[idx + j] end
  redis.call('XADD', KEYS[5], '*', unpack(fields))
  idx = idx + nf + 1
end
if ARGV[4] == '1' then
  -- The finished record and its delivery bookkeeping expire together, in this same step.
  local ttl = tonumber(ARGV[6])
  -- The delivered marker may not exist yet (nothing delivered): create it so its expiry sticks.
  redis.call('SET', KEYS[9], '0', 'NX')
  for k = 1, 10 do
    if k ~= 2 and k ~= 4 and k ~= 5 and k ~= 6 and k ~= 8 then redis.call('PEXPIRE', KEYS[k], ttl) end
  end
end
return nv
