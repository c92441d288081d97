-- delete_topic.lua: delete a topic, one bounded chunk a call. Items routed only
-- to it are deleted; items on other topics too just lose it; every agent stops
-- following it.
--
-- A call handles at most ARGV[8] items (never more than CHUNK), then, once the
-- topic holds no item, at most as many of its followers; the caller repeats
-- while the reply says work remains (syntha_redis/core/topic_operations.py).
-- While it is in progress, readers see the topic's items go chunk by chunk,
-- each with its own 'deleted' or 'updated' event and version; the followers
-- keep the topic until the last chunks; the 'topic_deleted' event comes last,
-- after every item event. A call that stops half way (a crash, a timeout)
-- leaves a topic that a new delete_topic call finishes: each call starts from
-- what is left. Items pushed to the topic meanwhile are deleted with it if a
-- later chunk meets them.
--
-- KEYS[1] user root
-- ARGV[1..6] common head; ARGV[7] topic token; ARGV[8] items per call
-- ARGV[9] items the earlier calls of this deletion deleted (for the event's count)
-- Returns {done (0/1), existed (0/1), items_deleted, subscribers_affected, version}
--         (this call's share; version = the topic_deleted event's, once done)
local prior = replayed()
if prior then return prior end
local lim, bad = checked_head()
if not lim then return bad end
-- ~20 us an item on an idle 2-core machine, several times that on a loaded one:
-- a call stays under 50 ms either way (benchmarks/bench_heavy_calls.py)
local CHUNK = 250
local topic = ARGV[7]
if not name_ok(topic, lim) then return refused('topic', 'bad_token', lim.name) end
local chunk, before = whole(ARGV[8], 1e9), whole(ARGV[9], 1e15)
if not chunk or chunk < 1 or not before then return refused('chunk', ARGV[8], CHUNK) end
chunk = math.min(chunk, CHUNK)
local now = now_ms()
prune(now)
local version = tonumber(redis.call('GET', K_VER) or '0')
local existed = redis.call('SISMEMBER', K_TOPICS, topic)
local deleted = 0
local toks = redis.call('SRANDMEMBER', K_TITEMS .. topic, chunk)
for _, tok in ipairs(toks) do
  local key = K_ITEM .. tok
  local h = redis.call('HMGET', key, 'topics', 'subs', 'author')
  if h[1] then
    local rest = {}
    for _, t in ipairs(split(h[1])) do
      if t ~= topic then rest[#rest + 1] = t end
    end
    version = next_version()
    if #rest == 0 then
      unindex(tok)
      redis.call('DEL', key)
      deleted = deleted + 1
      emit({'type', 'deleted', 'key', tok, 'ver', version, 'topics', h[1], 'subs', h[2]})
    else
      local topics = table.concat(rest, ',')
      redis.call('HSET', key, 'topics', topics, 'version', version)
      -- the item's footprint shrinks by the topic's token and its comma
      redis.call('DECRBY', K_BYTES, #h[1] - #topics)
      local route = redis.call('HGET', K_ROUTES, tok)
      if route then
        local size = footprint(tok, redis.call('HSTRLEN', key, 'value'), topics, h[2])
        redis.call('HSET', K_ROUTES, tok, size .. '|' .. topics .. '|' .. h[2])
      end
      emit({'type', 'updated', 'key', tok, 'ver', version, 'by', h[3], 'topics', topics,
            'subs', h[2]})
    end
  end
  -- an index entry of an item Redis expired: its prune drops the rest
  redis.call('SREM', K_TITEMS .. topic, tok)
end
if #toks > 0 then return remember({0, existed, deleted, 0, version}) end
local subscribers = redis.call('SRANDMEMBER', K_TSUBS .. topic, chunk)
for _, agent in ipairs(subscribers) do
  redis.call('ZREM', K_ATOPICS .. agent, topic)
  redis.call('SREM', K_TSUBS .. topic, agent)
  if redis.call('EXISTS', K_ATOPICS .. agent) == 0 then redis.call('SREM', K_TAGENTS, agent) end
end
if #subscribers == chunk then return remember({0, existed, 0, #subscribers, version}) end
if existed == 0 and before == 0 and #subscribers == 0 then
  return remember({1, 0, 0, 0, version})  -- no such topic: nothing to record
end
redis.call('SREM', K_TOPICS, topic)
version = next_version()
emit({'type', 'topic_deleted', 'topic', topic, 'ver', version, 'count', before})
return remember({1, existed, 0, #subscribers, version})
