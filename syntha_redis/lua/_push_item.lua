-- _push_item.lua: checking and writing one item, shared by push.lua and push_many.lua.
--
-- An item spec is a table {tok, value, author, topics_csv, subs_csv, ttl_ms, expected}
-- built from ARGV by the caller. check_item() only reads; write_item() only writes,
-- so a script can check every item before it writes any (Redis has no rollback).

-- Expired items never count against a quota, swept or not: with quotas on,
-- a write first prunes up to QUOTA_PRUNE expired items (not just the prune
-- batch), and the item count leaves out any still waiting. Their bytes are
-- only uncounted once pruned, so a user with more than QUOTA_PRUNE expired
-- items waiting may be refused bytes until the sweeper has caught up.
local QUOTA_PRUNE = 1000
local function prune_for_quotas(now, lim)
  if lim.items > 0 or lim.bytes > 0 then prune(now, QUOTA_PRUNE) else prune(now) end
end

local function count(csv)
  if csv == '' then return 0 end
  local _, commas = string.gsub(csv, ',', '')
  return commas + 1
end

-- The limits of one item's own size: {0, code, key, found, limit} or nil.
local function check_size(spec, lim)
  local checks = {{'key_too_long', string.len(spec.tok), lim.key},
                  {'value_too_large', string.len(spec.value), lim.value},
                  {'too_many_topics', count(spec.topics), lim.topics},
                  {'too_many_subscribers', count(spec.subs), lim.subs}}
  for _, c in ipairs(checks) do
    if c[3] > 0 and c[2] > c[3] then return {0, c[1], spec.tok, c[2], c[3]} end
  end
  return nil
end

-- Returns nil if the item may be written, else a failure reply.
-- usage = {items=n, bytes=n} accumulates the effect of earlier items of a batch.
local function check_item(spec, usage, lim, now)
  local too_big = check_size(spec, lim)
  if too_big then return too_big end
  local max_items, max_bytes = lim.items, lim.bytes
  local key = K_ITEM .. spec.tok
  local cur = redis.call('HMGET', key, 'version', 'value')
  local exists = cur[1] ~= false
  local cur_ver = tonumber(cur[1]) or 0
  if spec.expected ~= '' and tonumber(spec.expected) ~= cur_ver then
    return {0, 'conflict', spec.tok, cur_ver, cur[2] or ''}
  end
  if spec.author ~= '' and spec.topics ~= '' then
    local allowed = K_PERMS .. spec.author
    if redis.call('EXISTS', allowed) == 1 then
      for _, t in ipairs(split(spec.topics)) do
        if redis.call('SISMEMBER', allowed, t) == 0 then
          return {0, 'denied', spec.tok, t}
        end
      end
    end
  end
  local old_size = 0
  if exists then old_size = string.len(cur[2]) end
  if not exists and not usage.seen[spec.tok] then
    usage.items = usage.items + 1
    usage.seen[spec.tok] = true
  end
  usage.bytes = usage.bytes + string.len(spec.value) - old_size
  if max_items > 0 and usage.items > 0 then
    local count = redis.call('SCARD', K_ITEMS) - redis.call('ZCOUNT', K_EXP, '-inf', now)
    if count + usage.items > max_items then
      return {0, 'quota_items', spec.tok, count, max_items}
    end
  end
  if max_bytes > 0 then
    local used = tonumber(redis.call('GET', K_BYTES) or '0')
    if used + usage.bytes > max_bytes then
      return {0, 'quota_bytes', spec.tok, used, max_bytes}
    end
  end
  return nil
end

-- Writes the item hash (with the given version and times) and every index of it.
-- Records no event: write_item() does, restore.lua replays rows already captured.
local function store_item(spec, ver, created, expires)
  local key = K_ITEM .. spec.tok
  unindex(spec.tok)
  redis.call('HSET', key, 'value', spec.value, 'version', ver, 'author', spec.author,
    'created', created, 'expires', expires, 'topics', spec.topics, 'subs', spec.subs)
  if expires > 0 then
    redis.call('PEXPIREAT', key, expires)
    redis.call('ZADD', K_EXP, expires, spec.tok)
    redis.call('HSET', K_ROUTES, spec.tok,
      string.len(spec.value) .. '|' .. spec.topics .. '|' .. spec.subs)
  else
    redis.call('PERSIST', key)
  end
  redis.call('SADD', K_ITEMS, spec.tok)
  if spec.topics == '' and spec.subs == '' then redis.call('SADD', K_GLOBAL, spec.tok) end
  for _, t in ipairs(split(spec.topics)) do redis.call('SADD', K_TITEMS .. t, spec.tok) end
  for _, s in ipairs(split(spec.subs)) do redis.call('SADD', K_DIRECT .. s, spec.tok) end
  redis.call('INCRBY', K_BYTES, string.len(spec.value))
end

-- Writes the item and its indexes, records the event. Returns {version, created, expires}.
local function write_item(spec, now)
  local ver = next_version()
  local ttl = tonumber(spec.ttl)
  local expires = 0
  if ttl > 0 then expires = now + ttl end
  store_item(spec, ver, now, expires)
  emit({'type', 'pushed', 'key', spec.tok, 'ver', ver, 'by', spec.author,
        'topics', spec.topics, 'subs', spec.subs, 'exp', expires})
  return ver, expires
end
