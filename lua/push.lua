-- push.lua: store one context item (create or replace), atomically.
-- include: _push_item.lua
--
-- KEYS[1]  user root
-- ARGV[1..6] common head (_prelude.lua); ARGV[7] max items; ARGV[8] max bytes
-- ARGV[9]  key token          ARGV[10] msgpack value     ARGV[11] author token ('' = none)
-- ARGV[12] topic tokens csv   ARGV[13] subscriber csv    ARGV[14] ttl ms (0 = none)
-- ARGV[15] expected version ('' = any, '0' = must not exist)
-- Returns {1, version, created_ms, expires_ms (0 = never)}
--      or {0, 'conflict', key, current_version, current_value}
--      or {0, 'denied', key, topic}
--      or {0, 'quota_items' | 'quota_bytes', key, used, limit}
local prior = replayed()
if prior then return prior end
local now, now_s = clock()
local spec = {tok = ARGV[9], value = ARGV[10], author = ARGV[11], topics = ARGV[12],
              subs = ARGV[13], ttl = ARGV[14], expected = ARGV[15]}
local max_items, max_bytes = read_limits()
prune_for_quotas(now, max_items, max_bytes)
local failure = check_item(spec, {items = 0, bytes = 0, seen = {}, toks = {}}, max_items, max_bytes, now)
if failure then return failure end
local r = write_items({spec}, now, now_s)[1]
return remember_as({1, r[1], now, r[2]}, '1|' .. r[3] .. '|' .. now_s .. '|' .. r[4])
