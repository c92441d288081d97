-- push.lua: store one context item (create or replace), atomically.
-- include: _push_item.lua
--
-- KEYS[1]  user root
-- ARGV[1..6] common head (_prelude.lua)
-- ARGV[7]  key token          ARGV[8]  msgpack value     ARGV[9]  author token ('' = none)
-- ARGV[10] topic tokens csv   ARGV[11] subscriber csv    ARGV[12] ttl ms (0 = none)
-- ARGV[13] expected version ('' = any, '0' = must not exist)
-- Limits are the deployment's, from <root>limits (see limits() in _prelude.lua).
-- Returns {1, version, created_ms, expires_ms (0 = never)}
--      or {0, 'conflict', key, current_version, current_value}
--      or {0, 'denied', key, topic, allowed topics csv}
--      or {0, 'quota_items' | 'quota_bytes', key, used, limit}
--      or {0, 'key_too_long' | 'value_too_large' | 'too_many_topics' |
--          'too_many_subscribers', key, found, limit}
--      or the error 'SYNTHA_REFUSED <argument> <found> <allowed>' for an argument
--         the deployment refuses (see refused() and checked_head() in _prelude.lua)
local prior = replayed()
if prior then return prior end
local lim, bad = checked_head()
if not lim then return bad end
local now, now_s = clock()
local spec = {tok = ARGV[7], value = ARGV[8], author = ARGV[9], topics = ARGV[10],
              subs = ARGV[11], ttl = ARGV[12], expected = ARGV[13]}
prune_for_quotas(now, lim)
local failure = check_item(spec, new_usage(), lim, now)
if failure then return failure end
local r = write_items({spec}, now, now_s)[1]
return remember_as({1, r[1], now, r[2]}, '1|' .. r[3] .. '|' .. now_s .. '|' .. r[4])
