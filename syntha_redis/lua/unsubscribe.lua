-- unsubscribe.lua: stop an agent following some topics. Access through those
-- topics ends at once (routing is resolved at read time).
--
-- KEYS[1] user root
-- ARGV[1..6] common head; ARGV[7] agent token; ARGV[8] topic tokens csv
-- Returns {1, version, removed_csv, remaining_csv}
local prior = replayed()
if prior then return prior end
local lim, bad = checked_head()
if not lim then return bad end
if not name_ok(ARGV[7], lim) then return refused('agent_name', 'bad_token', lim.name) end
if not tokens_ok(ARGV[8], lim.name) then return refused('topics', 'bad_token', lim.name) end
local agent = ARGV[7]
local key = K_ATOPICS .. agent
local wanted = split(ARGV[8])
if lim.agent_topics > 0 and #wanted > lim.agent_topics then
  return refused('topics', #wanted, lim.agent_topics)
end
local removed = {}
for _, t in ipairs(wanted) do
  if redis.call('ZREM', key, t) == 1 then
    removed[#removed + 1] = t
    redis.call('SREM', K_TSUBS .. t, agent)
    if redis.call('EXISTS', K_TSUBS .. t) == 0 then redis.call('SREM', K_TOPICS, t) end
  end
end
local remaining = redis.call('ZRANGE', key, 0, -1)  -- in subscription order
if #remaining == 0 then redis.call('SREM', K_TAGENTS, agent) end
local csv = table.concat(remaining, ',')
if #removed == 0 then
  return remember({1, tonumber(redis.call('GET', K_VER) or '0'), '', csv})
end
local ver = next_version()
emit({'type', 'subscribed', 'agent', agent, 'topics', csv, 'ver', ver})
return remember({1, ver, table.concat(removed, ','), csv})
