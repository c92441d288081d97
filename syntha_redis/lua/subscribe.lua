-- subscribe.lua: set or extend the topics an agent follows.
--
-- An agent's topics are a zset scored by the order it subscribed in, so they
-- come back in that order (as Syntha lists them), not by name.
--
-- KEYS[1] user root
-- ARGV[1..6] common head; ARGV[7] agent token; ARGV[8] topic tokens csv
-- ARGV[9] 'replace' (the agent follows exactly these, in this order) or 'add' (after
-- those it follows)
-- The limit of topics per agent is the deployment's (limits() in _prelude.lua).
-- Returns {1, version, topics_csv (after, in subscription order)}
--      or {0, 'too_many_topics', count, limit}
local prior = replayed()
if prior then return prior end
local lim, bad = checked_head()
if not lim then return bad end
if not name_ok(ARGV[7], lim) then return refused('agent_name', 'bad_token', lim.name) end
if not tokens_ok(ARGV[8], lim.name) then return refused('topics', 'bad_token', lim.name) end
local agent, wanted, mode, limit = ARGV[7], split(ARGV[8]), ARGV[9], lim.agent_topics
local key = K_ATOPICS .. agent
local before = redis.call('ZRANGE', key, 0, -1)
local list = {}
if mode ~= 'replace' then list = before end
local after = set_of(list)
for _, t in ipairs(wanted) do
  if not after[t] then
    after[t] = true
    list[#list + 1] = t
  end
end
if limit > 0 and #list > limit then return {0, 'too_many_topics', #list, limit} end
for _, t in ipairs(before) do
  if not after[t] then
    redis.call('SREM', K_TSUBS .. t, agent)
    if redis.call('EXISTS', K_TSUBS .. t) == 0 then redis.call('SREM', K_TOPICS, t) end
  end
end
redis.call('DEL', key)
for i, t in ipairs(list) do
  redis.call('ZADD', key, i, t)
  redis.call('SADD', K_TSUBS .. t, agent)
  redis.call('SADD', K_TOPICS, t)
end
if #list > 0 then redis.call('SADD', K_TAGENTS, agent) else redis.call('SREM', K_TAGENTS, agent) end
local csv = table.concat(list, ',')
local ver = next_version()
emit({'type', 'subscribed', 'agent', agent, 'topics', csv, 'ver', ver})
return remember({1, ver, csv})
