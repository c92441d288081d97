-- get.lua: one item, if it is live and (when an agent is named) visible to that agent.
-- include: _read_item.lua
--
-- KEYS[1] user root
-- ARGV[1] key token   ARGV[2] agent token ('' = system read, no access check)
-- ARGV[3] 'v' = the value only (optional)
-- Returns {1, value, version, author, created_ms, expires_ms, topics_csv, subs_csv} or {0};
--      with 'v': the value, or nil
if ARGV[3] == 'v' then
  local h = redis.call('HMGET', K_ITEM .. ARGV[1], 'value', 'topics', 'subs')
  if h[1] and may_see(ARGV[2], h[2], h[3]) then return h[1] end
  return false
end
local h = read_item(ARGV[1], ARGV[2])
if not h then return {0} end
return {1, unpack(h)}
