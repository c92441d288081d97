-- remove.lua: delete one item and its index entries.
--
-- KEYS[1] user root
-- ARGV[1..6] common head; ARGV[7] key token
-- Returns {1, version} if the item existed, {0, 0} if not.
local prior = replayed()
if prior then return prior end
local lim, bad = checked_head()
if not lim then return bad end
if not tokens_ok(ARGV[7], 0) or string.find(ARGV[7], ',', 1, true) then
  return refused('key', 'bad_token', 'token')
end
local now = now_ms()
prune(now)
local tok = ARGV[7]
local existed = redis.call('EXISTS', K_ITEM .. tok) == 1
local _, topics, subs = unindex(tok)
redis.call('DEL', K_ITEM .. tok)
if not existed then return remember({0, 0}) end
local ver = next_version()
emit({'type', 'deleted', 'key', tok, 'ver', ver, 'topics', topics, 'subs', subs})
return remember({1, ver})
