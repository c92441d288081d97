-- clear.lua: delete a user's items, subscriptions and post permissions.
-- Works in chunks so no single call blocks Redis for long: the caller repeats
-- while the reply says items remain. The last chunk clears routing and records
-- one 'cleared' event (the snapshotter tombstones everything older).
--
-- KEYS[1] user root
-- ARGV[1..6] common head; ARGV[7] items per chunk
-- Returns {items_remaining, items_deleted, version (0 until the last chunk)}
local prior = replayed()
if prior then return prior end
local chunk = tonumber(ARGV[7])
local toks = redis.call('SRANDMEMBER', K_ITEMS, chunk)
for _, tok in ipairs(toks) do
  unindex(tok)
  redis.call('DEL', K_ITEM .. tok)
end
local remaining = redis.call('SCARD', K_ITEMS)
if remaining > 0 then return {remaining, #toks, 0} end
-- items with a TTL that Redis already expired are still indexed in exp/routes
for _, tok in ipairs(redis.call('ZRANGE', K_EXP, 0, -1)) do unindex(tok) end
for _, agent in ipairs(redis.call('SMEMBERS', K_TAGENTS)) do
  redis.call('DEL', K_ATOPICS .. agent)
end
for _, topic in ipairs(redis.call('SMEMBERS', K_TOPICS)) do
  redis.call('DEL', K_TSUBS .. topic)
end
for _, agent in ipairs(redis.call('SMEMBERS', K_PAGENTS)) do
  redis.call('DEL', K_PERMS .. agent)
end
redis.call('DEL', K_TAGENTS, K_TOPICS, K_PAGENTS, K_BYTES, K_EXP, K_ROUTES)
local ver = next_version()
emit({'type', 'cleared', 'ver', ver})
return remember({0, #toks, ver})
