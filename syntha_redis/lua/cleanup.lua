-- cleanup.lua: prune expired items (indexes, routes) and record 'expired' events.
--
-- KEYS[1] user root
-- ARGV[1..6] common head (ARGV[6] = how many to prune in this call)
-- Returns {pruned, remaining_expired}
local lim, bad = checked_head()
if not lim then return bad end
local now = now_ms()
local pruned = prune(now)
trim(now)
return {pruned, redis.call('ZCOUNT', K_EXP, '-inf', now)}
