-- _read_item.lua: reading one item with its access check, shared by get.lua and get_many.lua.
--
-- Neither reads the clock: Redis's own expiry (PEXPIREAT) hides an expired item
-- from HMGET, and a script sees the keyspace as of its start.

-- May agent (a token; '' = system read, no access check) see an item with this
-- routing? Resolved now, at read time: global, addressed by name, or on a topic
-- the agent follows at this moment (a plain search: tokens never hold ','; the
-- agent's topics are a zset in subscription order).
-- follows: the agent's topics as a Lua set, when the caller read them once for
-- many items (get_many.lua); else each topic is looked up.
local function may_see(agent, topics_csv, subs_csv, follows)
  if agent == '' or (topics_csv == '' and subs_csv == '') then return true end
  if subs_csv ~= '' and string.find(',' .. subs_csv .. ',', ',' .. agent .. ',', 1, true) then
    return true
  end
  if topics_csv == '' then return false end
  -- string.find, not gmatch: no iterator per call
  local key, start = K_ATOPICS .. agent, 1
  while true do
    local comma = string.find(topics_csv, ',', start, true)
    local t = string.sub(topics_csv, start, (comma or 0) - 1)
    if follows then
      if follows[t] then return true end
    elseif redis.call('ZSCORE', key, t) then
      return true
    end
    if not comma then return false end
    start = comma + 1
  end
end

-- The fields {value, version, author, created_ms, expires_ms, topics_csv, subs_csv}
-- of a live item, if agent may see it; else nil.
local function read_item(tok, agent, follows)
  local h = redis.call('HMGET', K_ITEM .. tok,
    'value', 'version', 'author', 'created', 'expires', 'topics', 'subs')
  if not h[1] or not may_see(agent, h[6], h[7], follows) then return nil end
  return h
end
