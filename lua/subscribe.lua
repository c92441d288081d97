-- subscribe.lua: set or extend the topics an agent follows.
--
-- KEYS[1] user root
-- ARGV[1..6] common head; ARGV[7] agent token; ARGV[8] topic tokens csv
-- ARGV[9] 'replace' (the agent follows exactly these) or 'add'
-- The limit of topics per agent is the deployment's (limits() in _prelude.lua).
-- Returns {1, version, topics_csv (after)} or {0, 'too_many_topics', count, limit}
local prior = replayed()
if prior then return prior end
local lim, missing = limits()
if not lim then return missing end
local agent, wanted, mode, limit = ARGV[7], split(ARGV[8]), ARGV[9], lim.agent_topics
local key = K_ATOPICS .. agent
local after = {}
if mode ~= 'replace' then after = set_of(redis.call('SMEMBERS', key)) end
for _, t in ipairs(wanted) do after[t] = true end
local count = 0
for _ in pairs(after) do count = count + 1 end
if limit > 0 and count > limit then return {0, 'too_many_topics', count, limit} end
for _, t in ipairs(redis.call('SMEMBERS', key)) do
  if not after[t] then
    redis.call('SREM', key, t)
    redis.call('SREM', K_TSUBS .. t, agent)
    if redis.call('EXISTS', K_TSUBS .. t) == 0 then redis.call('SREM', K_TOPICS, t) end
  end
end
local list = {}
for t in pairs(after) do
  list[#list + 1] = t
  redis.call('SADD', key, t)
  redis.call('SADD', K_TSUBS .. t, agent)
  redis.call('SADD', K_TOPICS, t)
end
if count > 0 then redis.call('SADD', K_TAGENTS, agent) else redis.call('SREM', K_TAGENTS, agent) end
table.sort(list)
local csv = table.concat(list, ',')
local ver = next_version()
emit({'type', 'subscribed', 'agent', agent, 'topics', csv, 'ver', ver})
return remember({1, ver, csv})
