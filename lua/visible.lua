-- visible.lua: every live item an agent may see, in one server-side read.
--
-- KEYS[1] user root
-- ARGV[1] agent token   ARGV[2] max items   ARGV[3] '1' = with values, '0' = metadata only
-- Returns {agent_topics, truncated (0/1), tok, value|'', version, author, created_ms,
--          expires_ms, topics_csv, subs_csv, tok, ...} (8 fields per item),
--          oldest item first (ties by key token)
local agent, limit, with_values = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'
local agent_topics = redis.call('SMEMBERS', K_ATOPICS .. agent)
local follows = set_of(agent_topics)
local sets = {K_GLOBAL, K_DIRECT .. agent}
for _, t in ipairs(agent_topics) do sets[#sets + 1] = K_TITEMS .. t end
local candidates = redis.call('SUNION', unpack(sets))
local now = now_ms()
local truncated = 0
local rows = {}
local fields = {'version', 'author', 'created', 'expires', 'topics', 'subs'}
if with_values then fields = {'value', 'version', 'author', 'created', 'expires', 'topics', 'subs'} end
for _, tok in ipairs(candidates) do
  if #rows >= limit then truncated = 1; break end
  local h = redis.call('HMGET', K_ITEM .. tok, unpack(fields))
  if not with_values then table.insert(h, 1, '') end
  local expires = tonumber(h[5])
  -- index entries are re-checked against the item itself: a stale entry never leaks
  if h[2] and (expires == 0 or expires > now) and visible_to(agent, h[6], h[7], follows) then
    rows[#rows + 1] = {tok = tok, created = tonumber(h[4]), h = h}
  end
end
-- ordered here, where the numbers already are, rather than by every client
table.sort(rows, function(a, b)
  if a.created ~= b.created then return a.created < b.created end
  return a.tok < b.tok
end)
local out = {agent_topics, truncated}
for _, row in ipairs(rows) do
  out[#out + 1] = row.tok
  for i = 1, 7 do out[#out + 1] = row.h[i] end
end
return out
