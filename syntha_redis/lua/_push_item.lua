-- _push_item.lua: checking and writing one item, shared by push.lua and push_many.lua.
--
-- An item spec is a table {tok, value, author, topics_csv, subs_csv, ttl_ms, expected}
-- built from ARGV by the caller. check_item() only reads; write_items() only writes,
-- so a script can check every item before it writes any (Redis has no rollback).

-- Expired items never count against a quota, swept or not: with quotas on,
-- a write first prunes up to QUOTA_PRUNE expired items (not just the prune
-- batch), and the item count leaves out any still waiting. Their bytes are
-- only uncounted once pruned, so a user with more than QUOTA_PRUNE expired
-- items waiting may be refused bytes until the sweeper has caught up.
-- When that prune took fewer than it could, none is left waiting (drained),
-- and the count needs no ZCOUNT of them.
local QUOTA_PRUNE = 1000
local drained = false
local function prune_for_quotas(now, lim)
  if lim.items > 0 or lim.bytes > 0 then
    drained = prune(now, QUOTA_PRUNE) < QUOTA_PRUNE
  else
    prune(now)
  end
end

-- Values must be what the client's codec writes and reads back
-- (syntha_redis/core/codec.py): one msgpack object of nil, booleans, numbers,
-- strings, bytes, arrays and maps with string keys, nested at most MAX_DEPTH
-- deep. Redis's cmsgpack would accept trailing bytes and any key type, and
-- fakeredis has none, so this walks the encoding itself: a header at a time,
-- skipping string and bytes bodies by their length. The walk costs ~0.5 us an
-- element on an idle 2-core machine (several times that on a loaded one), so
-- one call's values may hold at most MAX_ELEMENTS elements together (the
-- client checks each value against the same, codec.MAX_ELEMENTS).
local MAX_DEPTH, MAX_ELEMENTS = 500, 20000
-- Per header byte, as digits of string constants (a table constructor would
-- run on every call, a constant is built once when the script is loaded):
-- bytes after the header of fixed-size scalars, headers 0xca to 0xd3 (floats, ints)
local MP_FIXED = '4812481248'
-- width of the length field of strings, bytes, arrays and maps, headers 0xc0 to
-- 0xff ('0' = none: 0xc4-0xc6 bin, 0xd9-0xdb str, 0xdc-0xdd array, 0xde-0xdf map)
local MP_WIDTH = '0000124000000000000000000124242400000000000000000000000000000000'

-- Returns the elements of value s, or nil if s is not such a value or holds
-- more than budget elements.
local function msgpack_elements(s, budget)
  local byte = string.byte
  local pos, size, seen = 1, #s, 0
  -- a lone string up to 255 bytes (fixstr, str8), the commonest value, is one
  -- element: no walk, no tables
  local c1, c2 = byte(s, 1, 2)
  if budget >= 1 and c1 and ((c1 >= 0xa0 and c1 <= 0xbf and size == c1 - 0x9f) or
                             (c1 == 0xd9 and c2 and size == c2 + 2)) then
    return 1
  end
  local left, is_map, d = {1}, {false}, 1  -- per open container: elements left
  while d > 0 do
    if left[d] == 0 then
      d = d - 1
    else
      local want_key = is_map[d] and left[d] % 2 == 0
      left[d] = left[d] - 1
      seen = seen + 1
      if seen > budget then return nil end
      local c = byte(s, pos)
      if not c then return nil end
      local count, map, len = 0, false, 0
      local width = 0
      if c >= 0xc0 then width = byte(MP_WIDTH, c - 0xbf) - 48 end
      if width > 0 then
        local b1, b2, b3, b4 = byte(s, pos + 1, pos + width)
        if width == 1 then len = b1
        elseif width == 2 then len = b2 and b1 * 256 + b2
        else len = b4 and ((b1 * 256 + b2) * 256 + b3) * 256 + b4 end
        if not len then return nil end
        pos = pos + 1 + width
        if c >= 0xdc then
          count, map, len = len, c >= 0xde, 0
        elseif c <= 0xc6 and want_key then
          return nil  -- bytes as a map key
        end
      elseif c >= 0xa0 and c <= 0xbf then
        pos, len = pos + 1, c - 0xa0
      elseif want_key then
        return nil  -- a map key that is not a string
      elseif c <= 0x7f or c >= 0xe0 or c == 0xc0 or c == 0xc2 or c == 0xc3 then
        pos = pos + 1
      elseif c >= 0x90 and c <= 0x9f then
        pos, count = pos + 1, c - 0x90
      elseif c >= 0x80 and c <= 0x8f then
        pos, count, map = pos + 1, c - 0x80, true
      elseif c >= 0xca and c <= 0xd3 then
        pos = pos + 1 + byte(MP_FIXED, c - 0xc9) - 48
      else
        return nil  -- 0xc1 (never used) and the extension types
      end
      pos = pos + len
      if count > 0 then
        if d > MAX_DEPTH then return nil end
        d = d + 1
        left[d], is_map[d] = count, map
        if map then left[d] = 2 * count end
      end
    end
  end
  if pos ~= size + 1 then return nil end
  return seen
end

local function count(csv)
  if csv == '' then return 0 end
  local _, commas = string.gsub(csv, ',', '')
  return commas + 1
end

-- ttl ms: up to 100 years (syntha_redis/core/operations.py MAX_TTL_SECONDS), which
-- keeps an absolute expiry in ms exact in a Lua number
local MAX_TTL_MS = 100 * 365 * 86400 * 1000

-- The checks of one item's own arguments: nil if it may be written, else a
-- failure {0, code, key, found, limit} (the deployment's size limits) or an
-- error reply (an argument no client of this version sends: refused()).
-- usage.elements counts down the call's msgpack element budget.
-- (Plain comparisons, no table per check: the common case is no limit hit.)
local function check_size(spec, lim, usage)
  local tok = spec.tok
  if lim.key > 0 and string.len(tok) > lim.key then
    return {0, 'key_too_long', tok, string.len(tok), lim.key}
  end
  if lim.value > 0 and string.len(spec.value) > lim.value then
    return {0, 'value_too_large', tok, string.len(spec.value), lim.value}
  end
  -- a csv of n names is at least 2n - 1 long, so a short one needs no count
  if lim.topics > 0 and #spec.topics > 2 * lim.topics and count(spec.topics) > lim.topics then
    return {0, 'too_many_topics', tok, count(spec.topics), lim.topics}
  end
  if lim.subs > 0 and #spec.subs > 2 * lim.subs and count(spec.subs) > lim.subs then
    return {0, 'too_many_subscribers', tok, count(spec.subs), lim.subs}
  end
  if tok ~= '' and not tokens_ok(tok, 0) or string.find(tok, ',', 1, true) then
    return refused('key', 'not_a_token', 'token')
  end
  if not tokens_ok(spec.topics, lim.name) then return refused('topics', 'bad_token', lim.name) end
  if not tokens_ok(spec.subs, lim.name) then return refused('subscribers', 'bad_token', lim.name) end
  if spec.author ~= '' and not name_ok(spec.author, lim) then
    return refused('agent_name', 'bad_token', lim.name)
  end
  if not whole(spec.ttl, MAX_TTL_MS) then return refused('ttl', spec.ttl, MAX_TTL_MS) end
  if spec.expected ~= '' and not whole(spec.expected, 2 ^ 53) then
    return refused('expected_version', spec.expected, 2 ^ 53)
  end
  local elements = msgpack_elements(spec.value, usage.elements)
  if not elements then return refused('value', 'not_json_msgpack', usage.elements) end
  usage.elements = usage.elements - elements
  return nil
end

-- The usage a call's checks start from (see check_item()).
local function new_usage()
  return {items = 0, bytes = 0, elements = MAX_ELEMENTS, seen = {}, toks = {}}
end

-- Returns nil if the item may be written, else a failure reply.
-- usage = {items=n, bytes=n, elements=n, ...} (new_usage()) accumulates the effect of earlier
-- items of a batch, and keeps the user's live item count and bytes once read (live, used).
local function check_item(spec, usage, lim, now)
  local too_big = check_size(spec, lim, usage)
  if too_big then return too_big end
  local max_items, max_bytes = lim.items, lim.bytes
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
          -- the allowed topics too: the caller's error names them, no second call
          local topics = redis.call('SMEMBERS', allowed)
          table.sort(topics)
          return {0, 'denied', spec.tok, t, table.concat(topics, ',')}
        end
      end
    end
  end
  local old_size = 0
  if exists then old_size = footprint(spec.tok, string.len(cur[2]), cur[3], cur[4]) end
  if not exists and not usage.seen[spec.tok] then
    usage.items = usage.items + 1
    usage.seen[spec.tok] = true
  end
  usage.bytes = usage.bytes + footprint(spec.tok, string.len(spec.value), spec.topics, spec.subs)
    - old_size
  -- the user's counts are read once a call, not once an item: checks write
  -- nothing, so they hold for every item of a batch
  if max_items > 0 and usage.items > 0 then
    if not usage.live then
      usage.live = redis.call('SCARD', K_ITEMS)
      if not drained then usage.live = usage.live - redis.call('ZCOUNT', K_EXP, '-inf', now) end
    end
    if usage.live + usage.items > max_items then
      return {0, 'quota_items', spec.tok, usage.live, max_items}
    end
  end
  if max_bytes > 0 then
    if not usage.used then usage.used = tonumber(redis.call('GET', K_BYTES) or '0') end
    if usage.used + usage.bytes > max_bytes then
      return {0, 'quota_bytes', spec.tok, usage.used, max_bytes}
    end
  end
  return nil
end

-- Index additions of one script call, collected so that each index key gets
-- one variadic command per call instead of one per item. Removals are written
-- at once; flush() runs before anything that reads the indexes back (unindex).
-- A call that writes one item writes at once too (now = true): nothing to
-- collect, so no tables to build.
local function index_batch(now)
  if now then return {now = true} end
  return {sets = {}, names = {}, exp = {}, routes = {}, bytes = 0}
end

local function defer_sadd(ix, key, tok)
  if ix.now then redis.call('SADD', key, tok); return end
  local members = ix.sets[key]
  if not members then
    members = {}
    ix.sets[key] = members
    ix.names[#ix.names + 1] = key
  end
  members[#members + 1] = tok
end

local function defer_expiry(ix, tok, exp_s, route)
  if ix.now then
    redis.call('ZADD', K_EXP, exp_s, tok)
    redis.call('HSET', K_ROUTES, tok, route)
    return
  end
  ix.exp[#ix.exp + 1] = exp_s
  ix.exp[#ix.exp + 1] = tok
  ix.routes[#ix.routes + 1] = tok
  ix.routes[#ix.routes + 1] = route
end

local function defer_bytes(ix, grown)
  if ix.now then
    if grown ~= 0 then redis.call('INCRBY', K_BYTES, grown) end
    return
  end
  ix.bytes = ix.bytes + grown
end

local function flush(ix)
  if ix.now then return end
  for _, key in ipairs(ix.names) do redis.call('SADD', key, unpack(ix.sets[key])) end
  if #ix.exp > 0 then redis.call('ZADD', K_EXP, unpack(ix.exp)) end
  if #ix.routes > 0 then redis.call('HSET', K_ROUTES, unpack(ix.routes)) end
  if ix.bytes ~= 0 then redis.call('INCRBY', K_BYTES, ix.bytes) end
  ix.sets, ix.names, ix.exp, ix.routes, ix.bytes = {}, {}, {}, {}, 0
end

-- Adds tok to the index sets (prefix .. name) of the names in new_csv and drops
-- it from those only in old_csv.
local function reindex(ix, prefix, tok, old_csv, new_csv)
  if old_csv == new_csv then return end
  if old_csv == '' then
    for name in string.gmatch(new_csv, '[^,]+') do defer_sadd(ix, prefix .. name, tok) end
    return
  end
  local was = set_of(split(old_csv))
  local now = set_of(split(new_csv))
  for name in pairs(was) do
    if not now[name] then redis.call('SREM', prefix .. name, tok) end
  end
  for name in pairs(now) do
    if not was[name] then defer_sadd(ix, prefix .. name, tok) end
  end
end

-- Writes the item hash (with the given version and times) and every index of it
-- (index additions into ix, for flush()). Records no event: write_items() does,
-- restore.lua replays rows already captured. ver and created go to Redis as
-- given (strings cost no conversion); expires is a number, exp_s the same as a
-- string.
--
-- spec.old, when check_item() read it, is the item as it was: {version, value,
-- topics, subs, expires} (all false if there was none). An existing item's
-- indexes are what its fields say, so only the difference is written. A new
-- key has none, unless an expired item of that key awaits its prune: its
-- expiry entry is still there (spec.stale, or with spec.probe the ZADD or ZREM
-- of the new item tells). Without spec.old (restore.lua, a key twice in one
-- batch) every index of the key is cleared first.
local function store_item(ix, spec, ver, created, expires, exp_s)
  local tok, key, old = spec.tok, K_ITEM .. spec.tok, spec.old
  local old_topics, old_subs, old_size, old_expires = '', '', 0, 0
  local indexed, timed = false, false
  if old and old[1] then
    old_topics, old_subs = old[3] or '', old[4] or ''
    old_size = footprint(tok, string.len(old[2] or ''), old_topics, old_subs)
    old_expires, indexed = tonumber(old[5]) or 0, true
  elseif not old or spec.stale then
    flush(ix)
    unindex(tok)
  elseif spec.probe and expires > 0 then
    timed = true
    if redis.call('ZADD', K_EXP, exp_s, tok) == 0 then
      flush(ix)
      unindex(tok)
      redis.call('ZADD', K_EXP, exp_s, tok)
    end
  elseif spec.probe and redis.call('ZREM', K_EXP, tok) == 1 then
    flush(ix)
    unindex(tok)
  end
  redis.call('HSET', key, 'value', spec.value, 'version', ver, 'author', spec.author,
    'created', created, 'expires', exp_s, 'topics', spec.topics, 'subs', spec.subs)
  if expires > 0 then
    redis.call('PEXPIREAT', key, exp_s)
    local size = footprint(tok, string.len(spec.value), spec.topics, spec.subs)
    local route = size .. '|' .. spec.topics .. '|' .. spec.subs
    if timed then
      redis.call('HSET', K_ROUTES, tok, route)
    else
      defer_expiry(ix, tok, exp_s, route)
    end
  elseif old_expires > 0 then
    redis.call('PERSIST', key)
    redis.call('ZREM', K_EXP, tok)
    redis.call('HDEL', K_ROUTES, tok)
  end
  if not indexed then defer_sadd(ix, K_ITEMS, tok) end
  local was_global = indexed and old_topics == '' and old_subs == ''
  local is_global = spec.topics == '' and spec.subs == ''
  if is_global and not was_global then defer_sadd(ix, K_GLOBAL, tok)
  elseif was_global and not is_global then redis.call('SREM', K_GLOBAL, tok) end
  reindex(ix, K_TITEMS, tok, old_topics, spec.topics)
  reindex(ix, K_DIRECT, tok, old_subs, spec.subs)
  defer_bytes(ix, footprint(tok, string.len(spec.value), spec.topics, spec.subs) - old_size)
end

-- Writes checked items (in order), their indexes and one event each, then wakes
-- readers once. now_s is now as a string. Versions are consecutive, one per
-- item. Returns per item {version, expires_ms (0 = never)}, as numbers and as
-- strings: {ver, expires, ver_s, exp_s}.
local function write_items(specs, now, now_s)
  local n = #specs
  local first = next_version()
  if n > 1 then last_version = redis.call('INCRBY', K_VER, n - 1) end
  -- new keys whose expiry entry is still there: an expired item awaits its prune
  if n == 1 then
    specs[1].probe = true
  else
    local fresh = {}
    for _, spec in ipairs(specs) do
      if spec.old and not spec.old[1] then fresh[#fresh + 1] = spec end
    end
    local toks = {}
    for i, spec in ipairs(fresh) do toks[i] = spec.tok end
    if #toks > 0 then
      for i, score in ipairs(redis.call('ZMSCORE', K_EXP, unpack(toks))) do
        if score then fresh[i].stale = true end
      end
    end
  end
  local ix, out, id, cap = index_batch(n == 1), {}, nil, stream_cap()
  for i, spec in ipairs(specs) do
    local ver = first + i - 1
    local ver_s = string.format('%d', ver)
    local ttl = tonumber(spec.ttl)
    local expires, exp_s = 0, '0'
    if ttl > 0 then
      expires = now + ttl
      exp_s = string.format('%d', expires)
    end
    store_item(ix, spec, ver_s, now_s, expires, exp_s)
    id = redis.call('XADD', K_STREAM, 'MAXLEN', '~', cap, '*', 'type', 'pushed',
      'key', spec.tok, 'ver', ver_s, 'by', spec.author, 'topics', spec.topics,
      'subs', spec.subs, 'exp', exp_s)
    out[i] = {ver, expires, ver_s, exp_s}
  end
  flush(ix)
  -- the trim by age, when these versions passed a multiple of 64 (see emit())
  if math.floor((first + n - 1) / 64) ~= math.floor((first - 1) / 64) then trim(now) end
  wake(id)
  return out
end
