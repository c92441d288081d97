-- get.lua: one item, if it is live and (when an agent is named) visible to that agent.
-- include: _read_item.lua
--
-- KEYS[1] user root
-- ARGV[1] key token   ARGV[2] agent token ('' = system read, no access check)
-- Returns {1, value, version, author, created_ms, expires_ms, topics_csv, subs_csv} or {0}
local h = read_item(ARGV[1], ARGV[2], now_ms())
if not h then return {0} end
return {1, unpack(h)}
