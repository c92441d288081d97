-- delete_topic.lua: delete a topic. Items routed only to it are deleted; items
-- on other topics too just lose it; every agent stops following it.
--
-- KEYS[1] user root
-- ARGV[1..6] common head; ARGV[7] topic token
-- Returns {existed (0/1), items_deleted, subscribers_affected, version}
local prior = replayed()
if prior then return prior end
local now = now_ms()
prune(now)
local topic = ARGV[7]
local existed = redis.call('SISMEMBER', K_TOPICS, topic)
if existed == 0 and redis.call('EXISTS', K_TITEMS .. topic) == 0 then
  return remember({0, 0, 0, tonumber(redis.call('GET', K_VER) or '0')})
end
local deleted = 0
for _, tok in ipairs(redis.call('SMEMBERS', K_TITEMS .. topic)) do
  local key = K_ITEM .. tok
  local h = redis.call('HMGET', key, 'topics', 'subs', 'author')
  if h[1] then
    local rest = {}
    for _, t in ipairs(split(h[1])) do
      if t ~= topic then rest[#rest + 1] = t end
    end
    local ver = next_version()
    if #rest == 0 then
      unindex(tok)
      redis.call('DEL', key)
      deleted = deleted + 1
      emit({'type', 'deleted', 'key', tok, 'ver', ver, 'topics', h[1], 'subs', h[2]})
    else
      local topics = table.concat(rest, ',')
      redis.call('HSET', key, 'topics', topics, 'version', ver)
      local route = redis.call('HGET', K_ROUTES, tok)
      if route then
        redis.call('HSET', K_ROUTES, tok, string.len(redis.call('HGET', key, 'value')) ..
          '|' .. topics .. '|' .. h[2])
      end
      emit({'type', 'updated', 'key', tok, 'ver', ver, 'by', h[3], 'topics', topics,
            'subs', h[2]})
    end
  end
end
redis.call('DEL', K_TITEMS .. topic)
local subscribers = redis.call('SMEMBERS', K_TSUBS .. topic)
for _, agent in ipairs(subscribers) do
  redis.call('ZREM', K_ATOPICS .. agent, topic)
  if redis.call('EXISTS', K_ATOPICS .. agent) == 0 then redis.call('SREM', K_TAGENTS, agent) end
end
redis.call('DEL', K_TSUBS .. topic)
redis.call('SREM', K_TOPICS, topic)
local ver = next_version()
emit({'type', 'topic_deleted', 'topic', topic, 'ver', ver, 'count', deleted})
return remember({existed, deleted, #subscribers, ver})
