-- visible.lua: one bounded chunk of the live items an agent may see.
--
-- The candidates are the members of the agent's index sets: global items, items
-- addressed to it, items of each topic it follows (in that order). A call scans
-- at most about CHUNK of them (SSCAN from the cursor) and returns the visible
-- ones; the caller calls again with the cursor it got until it gets '' back,
-- and keeps the newest rows (syntha_redis/core/operations.py visible_rows()).
-- Each visible item is counted in the first of those sets that holds it, so no
-- item counts twice when it is both addressed to the agent and on a topic.
--
-- The chunks are not one snapshot: an item written, deleted or re-routed while
-- a read is in progress may be seen or missed, and a subscription change
-- during it may skip or repeat part of the topics; each item read is live and
-- visible as of its own chunk.
--
-- KEYS[1] user root
-- ARGV[1] agent token   ARGV[2] cursor ('' = start)
-- ARGV[3] what each item carries: '1' = every field, '0' = every field but the value
--         (sent as ''), 'kv' = only the key token and the value
-- ARGV[4] floor: rows whose sort key is not above it are counted, not sent ('' = none)
-- Returns {agent_topics, next_cursor ('' = done), visible_in_chunk, row..., row...};
--         each row is 9 flat elements: sort_key, tok, value|'', version, author,
--         created_ms, expires_ms, topics_csv, subs_csv; or 3 for 'kv': sort_key,
--         tok, value (flat: a table per row costs more than its elements).
--         sort_key orders rows by time: the version, zero-padded, then tok. A
--         user's versions grow with every write (INCR in the same script that
--         sets created), so they order writes as created does, without reading
--         created in 'kv' mode, and still do where a failover's clock went back.
--
-- The cost is per candidate, so the loop does as little as it can: one HMGET
-- of the fields the mode needs (each field costs a listpack lookup), a
-- visibility test by plain string search, no sort.
-- ~6 us a candidate on an idle 2-core machine, several times that on a loaded
-- one: a call stays under 50 ms even under a 10x load (benchmarks/bench_heavy_calls.py)
local CHUNK = 300
local agent, cursor, mode, floor = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if agent == '' or not tokens_ok(agent, 0) or string.find(agent, ',', 1, true) then
  return refused('agent_name', 'bad_token', 'token')
end
local agent_topics = redis.call('ZRANGE', K_ATOPICS .. agent, 0, -1)
-- topic token -> its place in the agent's list (the set after global and direct)
local place = {}
for i, t in ipairs(agent_topics) do place[t] = i + 2 end
local sets = {K_GLOBAL, K_DIRECT .. agent}
for _, t in ipairs(agent_topics) do sets[#sets + 1] = K_TITEMS .. t end

local at, scan = 1, '0'
if cursor ~= '' then
  local i, c = string.match(cursor, '^(%d+):(%d+)$')
  if not i then return refused('cursor', cursor, 'cursor') end
  at, scan = tonumber(i), c
end

-- the fields to read, the first three always: version, topics, subs
-- (named in each HMGET: unpack() of a table costs more)
local kv, all = mode == 'kv', mode == '1'

-- The set (its place in sets) an item with this routing is counted in, or nil
-- if the agent cannot see it. (string.find, not gmatch: no iterator per item)
local needle = ',' .. agent .. ','
local function owner(topics, subs)
  if topics == '' and subs == '' then return 1 end
  if subs ~= '' and string.find(',' .. subs .. ',', needle, 1, true) then return 2 end
  local first, start = nil, 1
  while topics ~= '' do
    local comma = string.find(topics, ',', start, true)
    local p = place[string.sub(topics, start, (comma or 0) - 1)]
    if p and (not first or p < first) then first = p end
    if not comma then break end
    start = comma + 1
  end
  return first
end

-- zero padding by length: versions (which start at the clock in microseconds)
-- have 16 digits from 2001 to 2286, so most need none
local ZEROS = '0000000000000000'

local out = {agent_topics, '', 0}
local visible, budget = 0, CHUNK
while at <= #sets and budget > 0 do
  local reply = redis.call('SSCAN', sets[at], scan, 'COUNT', budget)
  scan = reply[1]
  for _, tok in ipairs(reply[2]) do
    budget = budget - 1
    -- Redis's own expiry hides an expired item; a stale index entry (an item
    -- gone, moved or re-routed) is re-checked against the item itself
    local h
    if kv then
      h = redis.call('HMGET', K_ITEM .. tok, 'version', 'topics', 'subs', 'value')
    elseif all then
      h = redis.call('HMGET', K_ITEM .. tok, 'version', 'topics', 'subs', 'value', 'author',
                     'created', 'expires')
    else
      h = redis.call('HMGET', K_ITEM .. tok, 'version', 'topics', 'subs', 'author', 'created',
                     'expires')
    end
    local version = h[1]
    if version and owner(h[2], h[3]) == at then
      visible = visible + 1
      if #version < 16 then version = string.sub(ZEROS, #version + 1) .. version end
      local sort_key = version .. tok
      if floor == '' or sort_key > floor then
        local n = #out
        if kv then
          out[n + 1], out[n + 2], out[n + 3] = sort_key, tok, h[4]
        else
          local value, author, created, expires = '', h[4], h[5], h[6]
          if all then value, author, created, expires = h[4], h[5], h[6], h[7] end
          out[n + 1], out[n + 2], out[n + 3], out[n + 4], out[n + 5] =
            sort_key, tok, value, h[1], author
          out[n + 6], out[n + 7], out[n + 8], out[n + 9] = created, expires, h[2], h[3]
        end
      end
    end
  end
  if scan == '0' then at, scan = at + 1, '0' end
end
if at <= #sets then out[2] = at .. ':' .. scan end
out[3] = visible
return out
