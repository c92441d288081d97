-- _prelude.lua: helpers shared by every script; syntha_redis/core/scripts.py prepends it.
--
-- KEYS[1] is always the user's root "<prefix>:{u:<user>}:". Every other name is
-- KEYS[1] plus a suffix of syntha_redis/core/keys.py, so a script only ever touches
-- its own user's hash slot. ARGV carries percent-encoded tokens, which never
-- contain ',' or '|', so both serve as separators below.
--
-- Mutating scripts take a common ARGV head (see syntha_redis/core/scripts.py):
--   ARGV[1] op_id (''=none)       ARGV[2] stream max length   ARGV[3] stream max age ms
--   ARGV[4] stream idle ttl ms    ARGV[5] op result ttl ms    ARGV[6] prune batch
local ROOT = KEYS[1]
local K_ITEM = ROOT .. 'item:'
local K_ITEMS = ROOT .. 'items'
local K_EXP = ROOT .. 'exp'
local K_ROUTES = ROOT .. 'routes'
local K_GLOBAL = ROOT .. 'global'
local K_DIRECT = ROOT .. 'direct:'
local K_TITEMS = ROOT .. 'titems:'
local K_TSUBS = ROOT .. 'tsubs:'
local K_ATOPICS = ROOT .. 'atopics:'
local K_TOPICS = ROOT .. 'topics'
local K_TAGENTS = ROOT .. 'tagents'
local K_PERMS = ROOT .. 'perms:'
local K_PAGENTS = ROOT .. 'pagents'
local K_VER = ROOT .. 'ver'
local K_BYTES = ROOT .. 'bytes'
local K_STREAM = ROOT .. 'events'
local K_WAKE = ROOT .. 'wake'
local K_OP = ROOT .. 'op:'
local K_SWEEP = ROOT .. 'sweep'
local K_LIMITS = ROOT .. 'limits'
local K_CAPTURED = ROOT .. 'captured'
local K_GONE = ROOT .. 'gone'
local K_SNAPSHOT_DB = ROOT .. 'snapshot-db'

-- A mesh with a snapshot passes a second key (KEYS[2], its snapshot database's
-- epoch marker, '<root>epoch:<database>') to ask for this guard. The marker is set once the user's snapshot is back in
-- Redis; a Redis that lost its data (empty restart, FLUSHDB, a failover to an
-- empty replica) lost the marker too, so no call acts on the lost keyspace:
-- the client restores it from the snapshot and calls again
-- (syntha_redis/snapshot/guard.py).
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 0 then
  return redis.error_reply('SYNTHA_RESTORE_NEEDED the user keyspace has no epoch marker')
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Now in ms, as a number and as a string (built from TIME's strings: a number
-- handed to redis.call costs a conversion each time).
local function clock()
  local t = redis.call('TIME')
  local s = t[1] .. string.sub(string.rep('0', 6 - #t[2]) .. t[2], 1, 3)
  return tonumber(s), s
end

local function split(text, sep)
  local out = {}
  if text == nil or text == false or text == '' then return out end
  for part in string.gmatch(text, '[^' .. (sep or ',') .. ']+') do out[#out + 1] = part end
  return out
end

local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

-- Is an item with these routing fields visible to agent (a token)?
-- Routing is resolved now, at read time: global, addressed by name, or on a
-- topic the agent follows at this moment.
local function visible_to(agent, topics_csv, subs_csv, agent_topics)
  if (topics_csv == '' or not topics_csv) and (subs_csv == '' or not subs_csv) then
    return true
  end
  for _, s in ipairs(split(subs_csv)) do
    if s == agent then return true end
  end
  for _, t in ipairs(split(topics_csv)) do
    if agent_topics[t] then return true end
  end
  return false
end

-- What an item costs its user's byte quota: everything it stores, i.e. its key,
-- value, topics and subscribers (encoded lengths).
local function footprint(tok, value_len, topics, subs)
  return #tok + value_len + #topics + #subs
end

-- Routing of a stored item: its footprint, topics csv, subscribers csv. The item
-- hash may already be gone (Redis expired it), so items with a TTL keep a copy
-- in the routes hash until they are pruned.
local function routing_of(tok)
  local h = redis.call('HMGET', K_ITEM .. tok, 'topics', 'subs')
  if h[1] then
    return footprint(tok, redis.call('HSTRLEN', K_ITEM .. tok, 'value'), h[1], h[2] or ''),
      h[1], h[2]
  end
  local r = redis.call('HGET', K_ROUTES, tok)
  if r then
    local size, topics, subs = string.match(r, '^(%d+)|([^|]*)|(.*)$')
    return tonumber(size), topics, subs
  end
  return nil, '', ''
end

-- Remove an item from every index (not the hash itself). Returns its routing.
local function unindex(tok)
  local size, topics, subs = routing_of(tok)
  redis.call('SREM', K_ITEMS, tok)
  redis.call('SREM', K_GLOBAL, tok)
  redis.call('ZREM', K_EXP, tok)
  redis.call('HDEL', K_ROUTES, tok)
  for _, t in ipairs(split(topics)) do redis.call('SREM', K_TITEMS .. t, tok) end
  for _, s in ipairs(split(subs)) do redis.call('SREM', K_DIRECT .. s, tok) end
  if size then redis.call('DECRBY', K_BYTES, size) end
  return size, topics, subs
end

-- The version next_version() gave out last (this call's latest change).
local last_version = 0

-- Stream ids compare as (ms, seq) pairs; "ms" alone means "ms-0".
local function id_before(a, b)
  local am, as = string.match(a, '^(%d+)-?(%d*)$')
  local bm, bs = string.match(b, '^(%d+)-?(%d*)$')
  if #am ~= #bm then return #am < #bm end
  if am ~= bm then return am < bm end
  return (tonumber(as) or 0) < (tonumber(bs) or 0)
end

-- Trimming never outruns the snapshot. While a snapshot captures this user
-- (syntha_redis/snapshot/capture.py), <root>captured holds its floor: an entry
-- id the capture group has acknowledged every entry before ('0-0' until its
-- first pass, 'lost' once entries were trimmed before it). No trim here removes the floor or anything after it, except
-- the hard cap (HARD_CAP times the stream max length, a memory bound): the
-- capture then finds its floor gone and captures the user in full again.
-- Deletions made meanwhile are also kept in the zset <root>gone (token ->
-- version; '*cleared' for clear()), which no trim touches, so that capture
-- writes their tombstones. Without a snapshot (no floor) the stream is bounded
-- by length and age only.
local HARD_CAP = 10
local floor_read, floor = false, nil
local function capture_floor()
  if not floor_read then floor, floor_read = redis.call('GET', K_CAPTURED), true end
  return floor
end

-- The stream's length cap for XADD ... MAXLEN ~ (see capture_floor()). Before
-- the capture's first acknowledgement (floor '0-0') every entry is unread, so
-- reaching the hard cap loses some: the floor says 'lost', and the capture
-- finds the gap as if its floor had been trimmed.
local function stream_cap()
  local kept = capture_floor()
  if not kept then return ARGV[2] end
  local cap = tonumber(ARGV[2]) * HARD_CAP
  if kept == '0-0' and redis.call('XLEN', K_STREAM) >= cap then
    floor = 'lost'
    redis.call('SET', K_CAPTURED, floor, 'KEEPTTL')
  end
  return cap
end

-- Drop the stream's events older than the stream max age (ms since the epoch:
-- 13 digits, which tostring() keeps exact); with a snapshot, only those its
-- capture acknowledged, and past the max length all of those.
local function trim(now)
  local cut, kept = tostring(now - tonumber(ARGV[3])), capture_floor()
  if kept then
    if kept == '0-0' or kept == 'lost' then return end  -- nothing acknowledged yet
    if id_before(kept, cut) or redis.call('XLEN', K_STREAM) > tonumber(ARGV[2]) then
      cut = kept
    end
  end
  redis.call('XTRIM', K_STREAM, 'MINID', '~', cut)
end

-- Wake readers of the user's stream (pub/sub is only a hint; readers resume
-- from their last event id) and keep an active user's stream from expiring.
local function wake(id)
  redis.call('PEXPIRE', K_STREAM, ARGV[4])
  redis.call('SPUBLISH', K_WAKE, id)
end

-- A deletion or clear, kept for the snapshot where no trim reaches it (see
-- capture_floor()).
local function keep_gone(fields)
  if fields[2] ~= 'deleted' and fields[2] ~= 'cleared' then return end
  if not capture_floor() then return end
  local named = {}
  for i = 1, #fields, 2 do named[fields[i]] = fields[i + 1] end
  redis.call('ZADD', K_GONE, named.ver, named.key or '*cleared')
end

-- Append a change event to the user's stream (the truth) and wake readers.
-- The trim by age walks the stream's head, so it runs on every 64th version
-- only (and in every sweep).
local function emit(fields)
  local id = redis.call('XADD', K_STREAM, 'MAXLEN', '~', stream_cap(), '*', unpack(fields))
  keep_gone(fields)
  if last_version % 64 == 0 then trim(tonumber(string.match(id, '^(%d+)'))) end
  wake(id)
  return id
end

-- The user's next version: INCR, which starts a missing counter at 1. A new
-- (or wiped) keyspace starts its counter at the server clock in microseconds
-- instead, so versions still grow after Redis loses its data and the
-- snapshot's version guard never takes new writes for old ones.
-- (Redis passes Lua numbers to commands exactly up to 2^53; tostring() would not.)
local function next_version()
  local ver = redis.call('INCR', K_VER)
  if ver == 1 then
    local t = redis.call('TIME')
    redis.call('SET', K_VER, t[1] .. string.format('%06d', tonumber(t[2])))
    ver = redis.call('INCR', K_VER)
  end
  last_version = ver
  return ver
end

-- Drop expired items from the indexes and record an 'expired' event for each.
-- Bounded by the prune batch (or limit); the sweeper and later calls take the rest.
local function prune(now, limit)
  local expired = redis.call('ZRANGEBYSCORE', K_EXP, '-inf', now, 'LIMIT', 0,
                             limit or tonumber(ARGV[6]))
  for _, tok in ipairs(expired) do
    local _, topics, subs = unindex(tok)
    redis.call('DEL', K_ITEM .. tok)
    local ver = next_version()
    emit({'type', 'expired', 'key', tok, 'ver', ver, 'topics', topics, 'subs', subs})
  end
  return #expired
end

-- The deployment's limits, from the user's copy (syntha_redis/core/limits.py):
-- 'items|bytes|value|topics|subs|agent_topics|key|name|stream|prune|batch',
-- encoded sizes, 0 = none. Without a copy the call stops here, before any
-- write, and the client provisions one and calls again; so no client's own
-- settings, and no raw EVALSHA, can get around them.
-- (a literal: a script builds what it computes on every call)
local LIMITS_FORMAT = '^(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)$'
local function limits()
  local copy = redis.call('GET', K_LIMITS)
  if not copy then
    return nil, redis.error_reply('SYNTHA_LIMITS_NEEDED the user has no copy of the limits')
  end
  -- one match into locals, not an iterator or a table (this runs on every write)
  local items, bytes, value, topics, subs, agent_topics, key, name, stream, prune_batch, batch =
    string.match(copy, LIMITS_FORMAT)
  if not batch then  -- not a copy this version wrote: provision it again
    return nil, redis.error_reply('SYNTHA_LIMITS_NEEDED the copy of the limits is unreadable')
  end
  return {items = tonumber(items), bytes = tonumber(bytes), value = tonumber(value),
          topics = tonumber(topics), subs = tonumber(subs), agent_topics = tonumber(agent_topics),
          key = tonumber(key), name = tonumber(name), stream = tonumber(stream),
          prune = tonumber(prune_batch), batch = tonumber(batch)}
end

-- An argument this version's client never sends (a raw EVALSHA, a client of
-- another version): 'SYNTHA_REFUSED <argument> <found> <allowed>', which the
-- client raises as a typed error (syntha_redis/core/store.py). Checked before
-- any write.
local function refused(what, found, allowed)
  return redis.error_reply('SYNTHA_REFUSED ' .. what .. ' ' .. tostring(found) .. ' ' ..
                           tostring(allowed))
end

-- s as a whole number from 0 to max (decimal digits only), else nil
local function whole(s, max)
  if type(s) ~= 'string' or #s > 16 or not string.find(s, '^%d+$') then return nil end
  local n = tonumber(s)
  if n > max then return nil end
  return n
end

-- Is csv a list of tokens (syntha_redis/core/keys.py encode: [A-Za-z0-9._%-],
-- joined by ','), none empty and none longer than max bytes (0 = no limit)?
-- A csv no longer than max needs no split.
local function tokens_ok(csv, max)
  if string.find(csv, '[^%w%.%_%%%-,]') or string.find(csv, ',,') or
      string.find(csv, '^,') or string.find(csv, ',$') then
    return false
  end
  if max == 0 or #csv <= max then return true end
  for t in string.gmatch(csv, '[^,]+') do
    if #t > max then return false end
  end
  return true
end

-- One name (topic, agent): a single non-empty token within the name limit.
local function name_ok(tok, lim)
  return tok ~= '' and not string.find(tok, ',', 1, true) and tokens_ok(tok, lim.name)
end

-- ms periods of the head (stream age, idle ttl, op result ttl): up to a year
local MAX_PERIOD_MS = 366 * 86400000
-- expired items one call prunes, whatever the deployment says (~7 us each)
local MAX_PRUNE = 1000

-- The limits, with the common head checked against them: nil and an error
-- reply if either is missing or refused. A stream max length or a prune batch
-- above the deployment's is lowered to it (ARGV is this call's own table), so
-- no call trims or prunes more than the deployment allows in one command.
local function checked_head()
  local lim, missing = limits()
  if not lim then return nil, missing end
  if #ARGV[1] > 64 then return nil, refused('op_id', #ARGV[1], 64) end
  local stream = whole(ARGV[2], 1e15)
  if not stream or stream < 1 then return nil, refused('stream_max_length', ARGV[2], lim.stream) end
  if lim.stream > 0 and stream > lim.stream then ARGV[2] = string.format('%d', lim.stream) end
  for i = 3, 5 do
    local ms = whole(ARGV[i], MAX_PERIOD_MS)
    if not ms or ms < 1 then
      local what = ({'stream_max_age', 'stream_idle_ttl', 'operation_ttl'})[i - 2]
      return nil, refused(what, ARGV[i], MAX_PERIOD_MS)
    end
  end
  local batch = whole(ARGV[6], 1e15)
  if not batch or batch < 1 then return nil, refused('prune_batch', ARGV[6], lim.prune) end
  local most = MAX_PRUNE
  if lim.prune > 0 then most = math.min(lim.prune, MAX_PRUNE) end
  if batch > most then ARGV[6] = string.format('%d', most) end
  return lim
end

-- Safe retries: a replayed operation id returns the first result, unapplied.
--
-- An op id '<bucket>:<hex>' (syntha_redis/core/operations.py: bucket = the client's
-- clock / the op result ttl) keeps its record as a field of the hash
-- '<root>op:<bucket>:<first two hex digits>', so the records of one period share
-- 256 small hashes (listpacks, ~75 B a record) instead of a key each (~200 B).
-- Every write to such a hash sets its TTL to the op result ttl again, so each
-- record lives at least that long, whatever the client clocks say. Any other id
-- (an older client) keeps a key of its own, as before.
local function op_record()
  local bucket, hex = string.match(ARGV[1], '^(%d+):(%x%x%x+)$')
  if bucket then return K_OP .. bucket .. ':' .. string.sub(hex, 1, 2), string.sub(hex, 3) end
  return K_OP .. ARGV[1], nil
end

local function replayed()
  if ARGV[1] == '' then return nil end
  local key, field = op_record()
  local r
  if field then r = redis.call('HGET', key, field) else r = redis.call('GET', key) end
  if not r then return nil end
  local out = split(r, '|')
  for i, v in ipairs(out) do if v == '~' then out[i] = '' end end
  return out
end

-- remember() with the record already encoded (numbers as decimal strings).
local function remember_as(result, record)
  if ARGV[1] ~= '' then
    local key, field = op_record()
    if field then
      redis.call('HSET', key, field, record)
      redis.call('PEXPIRE', key, ARGV[5])
    else
      redis.call('SET', key, record, 'PX', ARGV[5])
    end
  end
  return result
end

local function remember(result)
  if ARGV[1] == '' then return result end
  local parts = {}
  for i, v in ipairs(result) do
    if v == '' then parts[i] = '~'
    elseif type(v) == 'number' then parts[i] = string.format('%.0f', v)
    else parts[i] = v end
  end
  return remember_as(result, table.concat(parts, '|'))
end
