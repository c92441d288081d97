-- discover.lua: every topic with a subscriber, and who follows it, in one call
-- (the discover_topics tool). Read-only; bounded by the user's topics.
--
-- KEYS[1] user root
-- Returns {topic, {agent, ...}, topic, {agent, ...}, ...}
local out = {}
for _, topic in ipairs(redis.call('SMEMBERS', K_TOPICS)) do
  out[#out + 1] = topic
  out[#out + 1] = redis.call('SMEMBERS', K_TSUBS .. topic)
end
return out
