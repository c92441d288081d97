-- _read_item.lua: reading one item with its access check, shared by get.lua and get_many.lua.

-- The fields {value, version, author, created_ms, expires_ms, topics_csv, subs_csv}
-- of a live item, if agent ('' = system read, no access check) may see it; else nil.
local function read_item(tok, agent, now)
  local h = redis.call('HMGET', K_ITEM .. tok,
    'value', 'version', 'author', 'created', 'expires', 'topics', 'subs')
  if not h[1] then return nil end
  local expires = tonumber(h[5])
  if expires > 0 and expires <= now then return nil end
  if agent ~= '' and not (h[6] == '' and h[7] == '') then
    local topics = {}
    for _, t in ipairs(split(h[6])) do
      if redis.call('ZSCORE', K_ATOPICS .. agent, t) then topics[t] = true end
    end
    if not visible_to(agent, h[6], h[7], topics) then return nil end
  end
  return h
end
