-- Create an operation and take its prefix lock in one step. For break glass, in the same step: supersede the
-- open request that holds the lock (compare-and-set on its version) and take one use of the break-glass window,
-- so a lost race spends nothing.
-- KEYS: 1 lock, 2 op, 3 outbox, 4 pending set, 5 recent zset, 6 audit stream, 7 open zset, 8 outbox seq, 9 active set,
--       10 break-glass uses zset, 11 holder op, 12 holder outbox, 13 holder outbox seq, 14 holder delivered marker
-- ARGV: 1 opId, 2 json, 3 createdAt, 4 expiresAt (0: not waiting for approval), 5 nItems, items...,
--       then nAuditFields, fields..., then useMax (-1: no use taken), now, window,
--       then holderId ('' = none expected), holderVersion, holderJson, holderTtl, nHolderItems, items...,
--       nHolderAuditFields, fields...
-- Returns {1, ''} created; {0, holderId} the lock is held by another than expected; {2, used, oldest} no use left;
--         {3, ''} the holder changed meanwhile (retry).
local i = 6 + tonumber(ARGV[5])
local nAudit = tonumber(ARGV[i])
local auditStart = i + 1
i = i + nAudit + 1
local useMax = tonumber(ARGV[i])
local now = tonumber(ARGV[i + 1])
local window = tonumber(ARGV[i + 2])
local holderId = ARGV[i + 3]
local holderVersion = ARGV[i + 4]
local holderJson = ARGV[i + 5]
local holderTtl = tonumber(ARGV[i + 6])
local nHolderItems = tonumber(ARGV[i + 7])
local holderItemsStart = i + 8
local j = holderItemsStart + nHolderItems
local nHolderAudit = tonumber(ARGV[j])
local holderAuditStart = j + 1

local current = redis.call('GET', KEYS[1])
if holderId == '' then
  if current then return {0, current} end
else
  if current ~= holderId then return {0, current or ''} end
  if redis.call('HGET', KEYS[11], 'v') ~= holderVersion then return {3, ''} end
end

if useMax >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[10], 0, now - window)
  local used = redis.call('ZCARD', KEYS[10])
  if used >= useMax then
    local oldest = redis.call('ZRANGE', KEYS[10], 0, 0, 'WITHSCORES')
    return {2, used, oldest[2] or '0'}
  end
  redis.call('ZADD', KEYS[10], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[10], window)
end

if holderId ~= '' then
  local hv = tonumber(holderVersion) + 1
  redis.call('HSET', KEYS[11], 'v', hv, 'json', holderJson)
  redis.call('SREM', KEYS[9], holderId)
  redis.call('ZREM', KEYS[7], holderId)
  for k = 0, nHolderItems - 1 do
    local seq = redis.call('INCR', KEYS[13])
    redis.call('RPUSH', KEYS[12], seq .. '|' .. ARGV[holderItemsStart + k])
  end
  if nHolderItems > 0 then redis.call('SADD', KEYS[4], holderId) end
  if nHolderAudit > 0 then
    local fields = {}
    for k = 0, nHolderAudit - 1 do fields[k + 1] = ARGV[holderAuditStart + k] end
    redis.call('XADD', KEYS[6], '*', unpack(fields))
  end
  redis.call('SET', KEYS[14], '0', 'NX')
  redis.call('PEXPIRE', KEYS[11], holderTtl)
  redis.call('PEXPIRE', KEYS[12], holderTtl)
  redis.call('PEXPIRE', KEYS[13], holderTtl)
  redis.call('PEXPIRE', KEYS[14], holderTtl)
end

redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'v', 1, 'json', ARGV[2])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])
if ARGV[4] ~= '0' then redis.call('ZADD', KEYS[7], ARGV[4], ARGV[1]) end
redis.call('SADD', KEYS[9], ARGV[1])
local n = tonumber(ARGV[5])
for k = 1, n do
  local seq = redis.call('INCR', KEYS[8])
  redis.call('RPUSH', KEYS[3], seq .. '|' .. ARGV[5 + k])
end
if n > 0 then redis.call('SADD', KEYS[4], ARGV[1]) end
if nAudit > 0 then
  local fields = {}
  for k = 0, nAudit - 1 do fields[k + 1] = ARGV[auditStart + k] end
  redis.call('XADD', KEYS[6], '*', unpack(fields))
end
return {1, ''}
