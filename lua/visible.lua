-- visible.lua: every live item an agent may see, in one server-side read.
--
-- KEYS[1] user root
-- ARGV[1] agent token   ARGV[2] max items
-- ARGV[3] what each item carries: '1' = every field, '0' = every field but the value
--         (sent as ''), 'kv' = only the key token and the value
-- Returns {agent_topics, truncated (0/1), item, item, ...}, oldest item first (ties
--         by key token); an item is 8 fields {tok, value|'', version, author,
--         created_ms, expires_ms, topics_csv, subs_csv}, or 2 {tok, value} for 'kv'
--
-- The cost is per candidate, so the loop does as little as it can: one HMGET,
-- a visibility test by plain string search, and a sort on strings (created ms
-- are 13 digits from 2001 to 2286, so string order is time order) with Lua's
-- own comparator instead of a Lua function.
local agent, limit, mode = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local agent_topics = redis.call('SMEMBERS', K_ATOPICS .. agent)
local follows = set_of(agent_topics)
-- SMEMBERS of each index and a Lua table to drop duplicates: cheaper than
-- SUNION, which builds a temporary set inside Redis
local candidates, seen = {}, {}
local function add(set_key)
  for _, tok in ipairs(redis.call('SMEMBERS', set_key)) do
    if not seen[tok] then seen[tok] = true; candidates[#candidates + 1] = tok end
  end
end
add(K_GLOBAL)
add(K_DIRECT .. agent)
for _, t in ipairs(agent_topics) do add(K_TITEMS .. t) end

-- the fields to read, the first three always: created, topics, subs
local fields = {'created', 'topics', 'subs', 'value', 'version', 'author', 'expires'}
if mode == 'kv' then fields = {'created', 'topics', 'subs', 'value'}
elseif mode ~= '1' then fields = {'created', 'topics', 'subs', 'version', 'author', 'expires'} end

-- Does the csv of topic tokens hold one the agent follows? (string.find, not
-- gmatch: no iterator to allocate per item)
local function follows_any(csv)
  local start = 1
  while true do
    local comma = string.find(csv, ',', start, true)
    if follows[string.sub(csv, start, (comma or 0) - 1)] then return true end
    if not comma then return false end
    start = comma + 1
  end
end

local needle = ',' .. agent .. ','
local truncated = 0
local order, rows, toks = {}, {}, {}
for _, tok in ipairs(candidates) do
  if #order >= limit then truncated = 1; break end
  -- Redis's own expiry hides an expired item; a stale index entry (an item
  -- gone, moved or re-routed) is re-checked against the item itself
  local h = redis.call('HMGET', K_ITEM .. tok, unpack(fields))
  local created, topics, subs = h[1], h[2], h[3]
  if created and ((topics == '' and subs == '')
      or (topics ~= '' and follows_any(topics))
      or (subs ~= '' and string.find(',' .. subs .. ',', needle, 1, true))) then
    if #created ~= 13 then created = string.format('%013d', tonumber(created)) end
    local sort_key = created .. '\0' .. tok
    order[#order + 1] = sort_key
    rows[sort_key], toks[sort_key] = h, tok
  end
end
table.sort(order)
local out = {agent_topics, truncated}
local n = 2
for _, sort_key in ipairs(order) do
  local tok, h = toks[sort_key], rows[sort_key]
  if mode == 'kv' then
    out[n + 1], out[n + 2] = tok, h[4]
    n = n + 2
  else
    local value, at = '', 4
    if mode == '1' then value, at = h[4], 5 end
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = tok, value, h[at], h[at + 1]
    out[n + 5], out[n + 6], out[n + 7], out[n + 8] = h[1], h[at + 2], h[2], h[3]
    n = n + 8
  end
end
return out
