-- get.lua: one item, if it is live and (when an agent is named) visible to that agent.
--
-- KEYS[1] user root
-- ARGV[1] key token   ARGV[2] agent token ('' = system read, no access check)
-- Returns {1, value, version, author, created_ms, expires_ms, topics_csv, subs_csv} or {0}
local h = redis.call('HMGET', K_ITEM .. ARGV[1],
  'value', 'version', 'author', 'created', 'expires', 'topics', 'subs')
if not h[1] then return {0} end
local expires = tonumber(h[5])
if expires > 0 and expires <= now_ms() then return {0} end
local agent = ARGV[2]
if agent ~= '' and not (h[6] == '' and h[7] == '') then
  local topics = {}
  for _, t in ipairs(split(h[6])) do
    if redis.call('SISMEMBER', K_ATOPICS .. agent, t) == 1 then topics[t] = true end
  end
  if not visible_to(agent, h[6], h[7], topics) then return {0} end
end
return {1, h[1], h[2], h[3], h[4], h[5], h[6], h[7]}
