-- clear.lua: delete a user's items, subscriptions and post permissions, one
-- bounded chunk a call. The caller repeats while the reply says work remains
-- (syntha_redis/core/operations.py clear()).
--
-- A call handles at most ARGV[7] (never more than CHUNK) of: items, then index
-- entries of items Redis expired, then agents' subscriptions, topics'
-- followers and agents' post permissions. The last call records one 'cleared'
-- event. While it is in progress, readers see items disappear chunk by chunk
-- with no event of their own; the snapshot keeps every item until the
-- 'cleared' event, which tombstones everything older at once. A clear cut
-- short is finished by calling clear again; items pushed meanwhile may be
-- deleted with it (until the last call), or stay.
--
-- KEYS[1] user root
-- ARGV[1..6] common head; ARGV[7] items per call
-- Returns {work_remaining (0 = done), items_deleted, version (0 until the last call)}
local prior = replayed()
if prior then return prior end
local lim, bad = checked_head()
if not lim then return bad end
-- ~15 us an item on an idle 2-core machine, several times that on a loaded one:
-- a call stays under 50 ms either way (benchmarks/bench_heavy_calls.py)
local CHUNK = 500
local chunk = whole(ARGV[7], 1e9)
if not chunk or chunk < 1 then return refused('chunk', ARGV[7], CHUNK) end
chunk = math.min(chunk, CHUNK)
local toks = redis.call('SRANDMEMBER', K_ITEMS, chunk)
for _, tok in ipairs(toks) do
  unindex(tok)
  redis.call('DEL', K_ITEM .. tok)
end
if #toks > 0 then return {redis.call('SCARD', K_ITEMS) + 1, #toks, 0} end
-- items with a TTL that Redis already expired are still indexed in exp/routes
local expired = redis.call('ZRANGE', K_EXP, 0, chunk - 1)
for _, tok in ipairs(expired) do unindex(tok) end
if #expired > 0 then return {1, 0, 0} end
-- then the routing, a set of names at a time: each name's own key goes with it
for _, step in ipairs({{K_TAGENTS, K_ATOPICS}, {K_TOPICS, K_TSUBS}, {K_PAGENTS, K_PERMS}}) do
  local names = redis.call('SPOP', step[1], chunk)
  if #names > 0 then
    for _, name in ipairs(names) do redis.call('DEL', step[2] .. name) end
    return {1, 0, 0}
  end
end
redis.call('DEL', K_BYTES, K_EXP, K_ROUTES)
local ver = next_version()
emit({'type', 'cleared', 'ver', ver})
return remember({0, 0, ver})
