-- Create every operation of a multi-prefix emergency and take every prefix lock in one step, with ONE use of the
-- break-glass window for the whole batch. All or nothing: a lock held by anyone, or no use left, creates nothing and
-- spends nothing.
-- KEYS: 1 break-glass uses zset, 2 recent zset, 3 audit stream, 4 active set, 5 pending set, 6 batch record,
--       then per child: lock, op, outbox, outbox seq (4 keys each)
-- ARGV: 1 useMax, 2 now, 3 window, 4 batchId, 5 batchJson, 6 batchTtl, 7 nChildren,
--       then per child: opId, json, createdAt, nItems, items...,
--       then per child: nAuditFields, fields...
-- Returns {1, ''} created; {0, index, holderId} a lock is held (1-based child index); {2, used, oldest} no use left.
local n = tonumber(ARGV[7])
local children = {}
local a = 8
for c = 1, n do
  local child = { id = ARGV[a], json = ARGV[a + 1], createdAt = ARGV[a + 2], nItems = tonumber(ARGV[a + 3]), itemsStart = a + 4 }
  a = a + 4 + child.nItems
  children[c] = child
end
for c = 1, n do
  local nf = tonumber(ARGV[a])
  children[c].auditStart = a + 1
  children[c].nAudit = nf
  a = a + 1 + nf
end

for c = 1, n do
  local base = 6 + (c - 1) * 4
  local current = redis.call('GET', KEYS[base + 1])
  if current then return {0, c, current} end
end

local useMax = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, now - window)
local used = redis.call('ZCARD', KEYS[1])
if used >= useMax then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {2, used, oldest[2] or '0'}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)

redis.call('SET', KEYS[6], ARGV[5])
redis.call('PEXPIRE', KEYS[6], tonumber(ARGV[6]))

for c = 1, n do
  local child = children[c]
  local base = 6 + (c - 1) * 4
  redis.call('SET', KEYS[base + 1], child.id)
  redis.call('HSET', KEYS[base + 2], 'v', 1, 'json', child.json)
  redis.call('ZADD', KEYS[2], child.createdAt, child.id)
  redis.call('SADD', KEYS[4], child.id)
  for k = 0, child.nItems - 1 do
    local seq = redis.call('INCR', KEYS[base + 4])
    redis.call('RPUSH', KEYS[base + 3], seq .. '|' .. ARGV[child.itemsStart + k])
  end
  if child.nItems > 0 then redis.call('SADD', KEYS[5], child.id) end
  if child.nAudit > 0 then
    local fields = {}
    for k = 0, child.nAudit - 1 do fields[k + 1] = ARGV[child.auditStart + k] end
    redis.call('XADD', KEYS[3], '*', unpack(fields))
  end
end
return {1, ''}
