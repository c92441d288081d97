-- _push_item.lua: checking and writing one item, shared by push.lua and push_many.lua.
--
-- An item spec is a table {tok, value, author, topics_csv, subs_csv, ttl_ms, expected}
-- built from ARGV by the caller. check_item() only reads; write_item() only writes,
-- so a script can check every item before it writes any (Redis has no rollback).

-- Limits ARGV (after the common head): ARGV[7] max items (0=none), ARGV[8] max bytes (0=none)
local function read_limits()
  return tonumber(ARGV[7]), tonumber(ARGV[8])
end

-- Expired items never count against a quota, swept or not: with quotas on,
-- a write first prunes up to QUOTA_PRUNE expired items (not just the prune
-- batch), and the item count leaves out any still waiting. Their bytes are
-- only uncounted once pruned, so a user with more than QUOTA_PRUNE expired
-- items waiting may be refused bytes until the sweeper has caught up.
local QUOTA_PRUNE = 1000
local function prune_for_quotas(now, max_items, max_bytes)
  if max_items > 0 or max_bytes > 0 then prune(now, QUOTA_PRUNE) else prune(now) end
end

-- Returns nil if the item may be written, else a failure reply.
-- usage = {items=n, bytes=n} accumulates the effect of earlier items of a batch.
local function check_item(spec, usage, max_items, max_bytes, now)
  local key = K_ITEM .. spec.tok
  local cur = redis.call('HMGET', key, 'version', 'value', 'topics', 'subs', 'expires')
  local exists = cur[1] ~= false
  -- what store_item() may take as the item's indexes; a key twice in one batch
  -- is re-read there, after its first write
  if usage.toks[spec.tok] then spec.old = nil else spec.old = cur end
  usage.toks[spec.tok] = true
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

-- Adds tok to the index sets (prefix .. name) of the names in new_csv and drops
-- it from those only in old_csv.
local function reindex(prefix, tok, old_csv, new_csv)
  if old_csv == new_csv then return end
  if old_csv == '' then
    for name in string.gmatch(new_csv, '[^,]+') do redis.call('SADD', prefix .. name, tok) end
    return
  end
  local was = set_of(split(old_csv))
  local now = set_of(split(new_csv))
  for name in pairs(was) do
    if not now[name] then redis.call('SREM', prefix .. name, tok) end
  end
  for name in pairs(now) do
    if not was[name] then redis.call('SADD', prefix .. name, tok) end
  end
end

-- Writes the item hash (with the given version and times) and every index of it.
-- Records no event: write_item() does, restore.lua replays rows already captured.
-- ver and created go to Redis as given (strings cost no conversion); expires is
-- a number, exp_s the same as a string.
--
-- spec.old, when check_item() read it, is the item as it was: {version, value,
-- topics, subs, expires} (all false if there was none). An existing item's
-- indexes are what its fields say, so only the difference is written. A new
-- key has none, unless an expired item of that key awaits its prune: its
-- expiry entry is still there, which the ZADD (or ZREM) of the new item tells.
-- Without spec.old (restore.lua) every index of the key is cleared first.
local function store_item(spec, ver, created, expires, exp_s)
  local tok, key, old = spec.tok, K_ITEM .. spec.tok, spec.old
  local old_topics, old_subs, old_size, old_expires = '', '', 0, 0
  local indexed, timed = false, false
  if old and old[1] then
    old_topics, old_subs, old_size = old[3] or '', old[4] or '', string.len(old[2] or '')
    old_expires, indexed = tonumber(old[5]) or 0, true
  elseif not old then
    unindex(tok)
  elseif expires > 0 then
    timed = true
    if redis.call('ZADD', K_EXP, exp_s, tok) == 0 then
      unindex(tok)
      redis.call('ZADD', K_EXP, exp_s, tok)
    end
  elseif redis.call('ZREM', K_EXP, tok) == 1 then
    unindex(tok)
  end
  redis.call('HSET', key, 'value', spec.value, 'version', ver, 'author', spec.author,
    'created', created, 'expires', exp_s, 'topics', spec.topics, 'subs', spec.subs)
  if expires > 0 then
    redis.call('PEXPIREAT', key, exp_s)
    if not timed then redis.call('ZADD', K_EXP, exp_s, tok) end
    redis.call('HSET', K_ROUTES, tok,
      string.len(spec.value) .. '|' .. spec.topics .. '|' .. spec.subs)
  elseif old_expires > 0 then
    redis.call('PERSIST', key)
    redis.call('ZREM', K_EXP, tok)
    redis.call('HDEL', K_ROUTES, tok)
  end
  if not indexed then redis.call('SADD', K_ITEMS, tok) end
  local was_global = indexed and old_topics == '' and old_subs == ''
  local is_global = spec.topics == '' and spec.subs == ''
  if is_global and not was_global then redis.call('SADD', K_GLOBAL, tok)
  elseif was_global and not is_global then redis.call('SREM', K_GLOBAL, tok) end
  reindex(K_TITEMS, tok, old_topics, spec.topics)
  reindex(K_DIRECT, tok, old_subs, spec.subs)
  local grown = string.len(spec.value) - old_size
  if grown ~= 0 then redis.call('INCRBY', K_BYTES, grown) end
end

-- Writes the item and its indexes, records the event. now_s is now as a string.
-- Returns version and expires_ms (0 = never), as numbers and as strings.
local function write_item(spec, now, now_s)
  local ver = next_version()
  local ver_s = string.format('%d', ver)
  local ttl = tonumber(spec.ttl)
  local expires, exp_s = 0, '0'
  if ttl > 0 then
    expires = now + ttl
    exp_s = string.format('%d', expires)
  end
  store_item(spec, ver_s, now_s, expires, exp_s)
  emit({'type', 'pushed', 'key', spec.tok, 'ver', ver_s, 'by', spec.author,
        'topics', spec.topics, 'subs', spec.subs, 'exp', exp_s})
  return ver, expires, ver_s, exp_s
end
