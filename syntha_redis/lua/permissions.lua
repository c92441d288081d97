-- permissions.lua: set the topics an agent may post to (none = any topic).
--
-- KEYS[1] user root
-- ARGV[1..6] common head; ARGV[7] agent token; ARGV[8] topic tokens csv
-- Returns {1, version}
local prior = replayed()
if prior then return prior end
local lim, bad = checked_head()
if not lim then return bad end
if not name_ok(ARGV[7], lim) then return refused('agent_name', 'bad_token', lim.name) end
if not tokens_ok(ARGV[8], lim.name) then return refused('topics', 'bad_token', lim.name) end
local agent, topics = ARGV[7], split(ARGV[8])
if lim.agent_topics > 0 and #topics > lim.agent_topics then
  return refused('topics', #topics, lim.agent_topics)
end
local key = K_PERMS .. agent
redis.call('DEL', key)
for _, t in ipairs(topics) do redis.call('SADD', key, t) end
if #topics > 0 then redis.call('SADD', K_PAGENTS, agent) else redis.call('SREM', K_PAGENTS, agent) end
local ver = next_version()
emit({'type', 'permissions', 'agent', agent, 'topics', ARGV[8], 'ver', ver})
return remember({1, ver})
