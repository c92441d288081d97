-- watch.lua: the next change events one agent may see, read and filtered in one call.
--
-- Every event carries the version it took and versions are consecutive (each
-- INCR of the counter is paired with one XADD), so a reader that knows the
-- version of its cursor detects trimmed events exactly: the next event must
-- carry version + 1. Without that version, a vanished cursor entry is a gap.
--
-- KEYS[1] user root
-- ARGV[1] agent token
-- ARGV[2] cursor: id of the last event read, '0-0' = from the start, '$' = from now
-- ARGV[3] version of the cursor event ('' = unknown)
-- ARGV[4] max stream entries to scan in this call
-- Returns {cursor_id, cursor_version, gap (0/1), scanned, id, {field, value, ...}, id, ...}
--         (only the events the agent may see now; cursor = last entry scanned)
local agent, since, since_ver, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])

local function version_now()
  return tonumber(redis.call('GET', K_VER) or '0')
end

local function field_map(flat)
  local f = {}
  for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
  return f
end

if since == '$' then
  local newest = redis.call('XREVRANGE', K_STREAM, '+', '-', 'COUNT', 1)
  if #newest == 0 then return {'0-0', version_now(), 0, 0} end
  return {newest[1][1], tonumber(field_map(newest[1][2]).ver), 0, 0}
end

local entries = redis.call('XRANGE', K_STREAM, '(' .. since, '+', 'COUNT', limit)
local gap = 0
if since_ver == '' then
  local at = redis.call('XRANGE', K_STREAM, since, since)
  if #at == 0 then gap = 1 else since_ver = field_map(at[1][2]).ver end
end
-- A cursor taken before the user's first change holds version 0; the first
-- version is then the counter's clock seed (see next_version), so no gap check.
if since_ver ~= '' and tonumber(since_ver) ~= 0 then
  local next_ver = version_now() + 1
  if #entries > 0 then next_ver = tonumber(field_map(entries[1][2]).ver) end
  if next_ver ~= tonumber(since_ver) + 1 then gap = 1 end
end

local follows = set_of(redis.call('ZRANGE', K_ATOPICS .. agent, 0, -1))
local out = {since, since_ver, gap, #entries}
for _, entry in ipairs(entries) do
  local f = field_map(entry[2])
  local t = f.type
  local shown
  if t == 'cleared' or t == 'topic_deleted' then
    shown = true
  elseif t == 'subscribed' or t == 'permissions' then
    shown = f.agent == agent
  else
    shown = visible_to(agent, f.topics, f.subs, follows)
  end
  if shown then
    out[#out + 1] = entry[1]
    out[#out + 1] = entry[2]
  end
  out[1] = entry[1]
  out[2] = f.ver
end
return out
