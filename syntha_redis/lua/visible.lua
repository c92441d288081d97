-- visible.lua: the live items an agent may see, in one server-side read.
--
-- KEYS[1] user root
-- ARGV[1] agent token   ARGV[2] max items   ARGV[3] '1' = with values, '0' = metadata only
-- Returns {agent_topics, total_visible, tok, value|'', version, author, created_ms,
--          expires_ms, topics_csv, subs_csv, tok, ...} (8 fields per item),
--          oldest item first (ties by version, i.e. write order). When more than
--          max items are visible (total_visible > items returned), the cap keeps
--          the most recent ones: it applies after ordering, never to an arbitrary
--          subset. Memory stays bounded by 2 x max items: once that many rows are
--          held, the oldest are dropped down to max items.
local agent, limit, with_values = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'
local agent_topics = redis.call('ZRANGE', K_ATOPICS .. agent, 0, -1)
local follows = set_of(agent_topics)
local sets = {K_GLOBAL, K_DIRECT .. agent}
for _, t in ipairs(agent_topics) do sets[#sets + 1] = K_TITEMS .. t end
local candidates = redis.call('SUNION', unpack(sets))
local now = now_ms()
local total = 0
local rows = {}
local fields = {'version', 'author', 'created', 'expires', 'topics', 'subs'}
if with_values then fields = {'value', 'version', 'author', 'created', 'expires', 'topics', 'subs'} end

local function older(a, b)
  if a.created ~= b.created then return a.created < b.created end
  return a.version < b.version
end

-- keep the newest `limit` rows, oldest first
local function keep_newest()
  table.sort(rows, older)
  local drop = #rows - limit
  if drop <= 0 then return end
  local kept = {}
  for i = drop + 1, #rows do kept[#kept + 1] = rows[i] end
  rows = kept
end

for _, tok in ipairs(candidates) do
  local h = redis.call('HMGET', K_ITEM .. tok, unpack(fields))
  if not with_values then table.insert(h, 1, '') end
  local expires = tonumber(h[5])
  -- index entries are re-checked against the item itself: a stale entry never leaks
  if h[2] and (expires == 0 or expires > now) and visible_to(agent, h[6], h[7], follows) then
    total = total + 1
    rows[#rows + 1] = {tok = tok, created = tonumber(h[4]), version = tonumber(h[2]), h = h}
    if #rows >= 2 * limit then keep_newest() end
  end
end
-- ordered here, where the numbers already are, rather than by every client
keep_newest()
local out = {agent_topics, total}
for _, row in ipairs(rows) do
  out[#out + 1] = row.tok
  for i = 1, 7 do out[#out + 1] = row.h[i] end
end
return out
