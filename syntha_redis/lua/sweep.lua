-- sweep.lua: the expiry sweeper's pass over one user, under a lease.
--
-- The lease (<root>sweep = owner, with a TTL) lets at most one sweeper act for
-- a user across processes; it is renewed by its holder on every pass and
-- lapses by itself when the holder dies, so another sweeper takes over.
--
-- KEYS[1] user root
-- ARGV[1..6] common head (ARGV[6] = how many to prune in this call)
-- ARGV[7] owner id   ARGV[8] lease ms
-- Returns {acted (0/1), pruned, remaining_expired}
local lim, bad = checked_head()
if not lim then return bad end
if #ARGV[7] > 64 or not whole(ARGV[8], MAX_PERIOD_MS) then
  return refused('lease', ARGV[8], MAX_PERIOD_MS)
end
local holder = redis.call('GET', K_SWEEP)
if holder and holder ~= ARGV[7] then return {0, 0, 0} end
redis.call('SET', K_SWEEP, ARGV[7], 'PX', ARGV[8])
local now = now_ms()
local pruned = prune(now)
trim(now)
return {1, pruned, redis.call('ZCOUNT', K_EXP, '-inf', now)}
