-- visible.lua: the live items an agent may see, in one server-side read.
--
-- KEYS[1] user root
-- ARGV[1] agent token   ARGV[2] max items
-- ARGV[3] what each item carries: '1' = every field, '0' = every field but the value
--         (sent as ''), 'kv' = only the key token and the value
-- Returns {agent_topics, total_visible, item, item, ...}, oldest item first (ties
--         by version, i.e. write order); an item is 8 fields {tok, value|'',
--         version, author, created_ms, expires_ms, topics_csv, subs_csv}, or 2
--         {tok, value} for 'kv'. When more than max items are visible
--         (total_visible > items returned), the cap keeps the most recent ones:
--         it applies after ordering, never to an arbitrary subset. Memory stays
--         bounded by 2 x max items: once that many rows are held, the oldest are
--         dropped down to max items.
--
-- The cost is per candidate, so the loop does as little as it can: one HMGET,
-- a visibility test by plain string search, and a sort on strings with Lua's own
-- comparator instead of a Lua function: created ms (13 digits from 2001 to
-- 2286) then the version, zero-padded, so string order is time order.
local agent, limit, mode = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local agent_topics = redis.call('ZRANGE', K_ATOPICS .. agent, 0, -1)
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

-- the fields to read, the first four always: created, version, topics, subs
local fields = {'created', 'version', 'topics', 'subs', 'value', 'author', 'expires'}
if mode == 'kv' then fields = {'created', 'version', 'topics', 'subs', 'value'}
elseif mode ~= '1' then fields = {'created', 'version', 'topics', 'subs', 'author', 'expires'} end

-- Does the csv of topic tokens hold one the agent follows? (string.find, not
-- gmatch: no iterator to allocate per item)
local function follows_any(csv)
  if not string.find(csv, ',', 1, true) then return follows[csv] end
  local start = 1
  while true do
    local comma = string.find(csv, ',', start, true)
    if follows[string.sub(csv, start, (comma or 0) - 1)] then return true end
    if not comma then return false end
    start = comma + 1
  end
end

-- zero padding by length: created ms have 13 digits and versions (which start at
-- the clock in microseconds) 16 from 2001 to 2286, so most need none
local ZEROS = {}
for width = 1, 16 do ZEROS[width] = string.rep('0', width) end
local TOK = #fields + 1  -- where a row keeps its key token

local order, rows = {}, {}

-- keep the newest `limit` rows, oldest first
local function keep_newest()
  table.sort(order)
  local drop = #order - limit
  if drop <= 0 then return end
  local kept = {}
  for i = 1, drop do rows[order[i]] = nil end
  for i = drop + 1, #order do kept[#kept + 1] = order[i] end
  order = kept
end

local needle = ',' .. agent .. ','
local total = 0
for _, tok in ipairs(candidates) do
  -- Redis's own expiry hides an expired item; a stale index entry (an item
  -- gone, moved or re-routed) is re-checked against the item itself
  local h = redis.call('HMGET', K_ITEM .. tok, unpack(fields))
  local created, topics, subs = h[1], h[3], h[4]
  if created and ((topics == '' and subs == '')
      or (topics ~= '' and follows_any(topics))
      or (subs ~= '' and string.find(',' .. subs .. ',', needle, 1, true))) then
    total = total + 1
    local version = h[2]
    if #created < 13 then created = ZEROS[13 - #created] .. created end
    if #version < 16 then version = ZEROS[16 - #version] .. version end
    local sort_key = created .. version .. tok
    order[#order + 1] = sort_key
    h[TOK] = tok
    rows[sort_key] = h
    if #order >= 2 * limit then keep_newest() end
  end
end
keep_newest()
local out = {agent_topics, total}
local n = 2
for _, sort_key in ipairs(order) do
  local h = rows[sort_key]
  local tok = h[TOK]
  if mode == 'kv' then
    out[n + 1], out[n + 2] = tok, h[5]
    n = n + 2
  else
    local value, at = '', 5
    if mode == '1' then value, at = h[5], 6 end
    -- tok, value, version, author, created, expires, topics, subs
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = tok, value, h[2], h[at]
    out[n + 5], out[n + 6], out[n + 7], out[n + 8] = h[1], h[at + 1], h[3], h[4]
    n = n + 8
  end
end
return out
