-- stats.lua: counts for get_stats(), after pruning expired items.
--
-- KEYS[1] user root
-- ARGV[1..6] common head
-- Returns {items, expired_not_yet_pruned, global_items, topics, agents_with_topics,
--          bytes, version}
local lim, bad = checked_head()
if not lim then return bad end
local now = now_ms()
prune(now)
return {redis.call('SCARD', K_ITEMS), redis.call('ZCOUNT', K_EXP, '-inf', now), redis.call('SCARD', K_GLOBAL),
        redis.call('SCARD', K_TOPICS), redis.call('SCARD', K_TAGENTS),
        tonumber(redis.call('GET', K_BYTES) or '0'), tonumber(redis.call('GET', K_VER) or '0')}
