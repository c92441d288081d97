-- get_many.lua: several items in one call, each checked exactly as get.lua checks one.
-- include: _read_item.lua
--
-- KEYS[1] user root
-- ARGV[1] agent token ('' = system read, no access check)
-- ARGV[2..] key tokens (the caller bounds how many)
-- Returns one reply per key, in order: {1, value, version, author, created_ms,
--         expires_ms, topics_csv, subs_csv} or {0}
local agent = ARGV[1]
local out = {}
for i = 2, #ARGV do
  local h = read_item(ARGV[i], agent)
  if h then out[#out + 1] = {1, unpack(h)} else out[#out + 1] = {0} end
end
return out
