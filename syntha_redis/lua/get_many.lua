-- get_many.lua: several items in one call, each checked exactly as get.lua checks one.
-- include: _read_item.lua
--
-- KEYS[1] user root
-- ARGV[1] agent token ('' = system read, no access check)
-- ARGV[2..] key tokens: at most MAX_KEYS (the client's bound is max_batch_items)
-- Returns one reply per key, in order: {1, value, version, author, created_ms,
--         expires_ms, topics_csv, subs_csv} or {0}
-- ~5 us a key on an idle 2-core machine: a call stays well under 50 ms
local MAX_KEYS = 1000
if #ARGV - 1 > MAX_KEYS then return refused('keys', #ARGV - 1, MAX_KEYS) end
local agent = ARGV[1]
local follows = nil
if agent ~= '' then follows = set_of(redis.call('ZRANGE', K_ATOPICS .. agent, 0, -1)) end
local out = {}
for i = 2, #ARGV do
  local h = read_item(ARGV[i], agent, follows)
  if h then out[#out + 1] = {1, unpack(h)} else out[#out + 1] = {0} end
end
return out
