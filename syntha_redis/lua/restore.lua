-- restore.lua: write snapshot rows (from Postgres or SQLite) back into a user's mesh.
-- include: _push_item.lua
--
-- Idempotent: an item row is applied only if it is newer than Redis's copy, so
-- running a restore twice, or over a partly restored mesh, changes nothing more.
-- Rows keep their version, author, creation time and absolute expiry; expired
-- rows are skipped. An agent's subscriptions or post permissions are restored
-- only where Redis holds none for that agent (Redis keeps no per-agent version,
-- so anything it has was written after the snapshot). No events are recorded:
-- the rows came from the snapshot, which already holds them.
--
-- Takes no common ARGV head: it records no event and is idempotent, so it
-- needs no operation id.
--
-- KEYS[1] user root
-- ARGV[1]  lowest value for the version counter (the highest version in the snapshot);
--          the counter also goes to the server clock in microseconds at least, as
--          next_version() starts a wiped one: versions handed out before a loss that
--          the snapshot never captured (async mode) are below it too, so they are
--          never given out again and a compare-and-set with one is refused
-- ARGV[2]  n = number of item rows, then 8 fields per row:
--          key token, msgpack value, version, author token, created ms,
--          expires ms (0 = never), topic tokens csv, subscriber tokens csv
-- then 3 fields per agent row up to the end of ARGV:
--          'subscribed' | 'permissions', agent token, topic tokens csv
-- Returns {items_applied, items_not_newer, items_expired, agent_rows_applied}
--      or {-1, 'bad_argument', index}
local ITEM_FIELDS, AGENT_FIELDS, FIRST = 8, 3, 3
local min_ver, n = tonumber(ARGV[1]), tonumber(ARGV[2])
if not min_ver or not n or n < 0 then return {-1, 'bad_argument', 1} end
local agents_at = FIRST + n * ITEM_FIELDS
if agents_at - 1 > #ARGV or (#ARGV - agents_at + 1) % AGENT_FIELDS ~= 0 then
  return {-1, 'bad_argument', 2}
end
for i = FIRST, agents_at - 1, ITEM_FIELDS do
  for _, off in ipairs({2, 4, 5}) do
    if not tonumber(ARGV[i + off]) then return {-1, 'bad_argument', i + off} end
  end
end
for i = agents_at, #ARGV, AGENT_FIELDS do
  if ARGV[i] ~= 'subscribed' and ARGV[i] ~= 'permissions' then
    return {-1, 'bad_argument', i}
  end
end

local now = now_ms()
local applied, not_newer, expired, agents = 0, 0, 0, 0
local ix = index_batch()
for i = FIRST, agents_at - 1, ITEM_FIELDS do
  local ver, expires = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 5])
  local current = tonumber(redis.call('HGET', K_ITEM .. ARGV[i], 'version') or '0')
  if expires > 0 and expires <= now then
    expired = expired + 1
  elseif ver <= current then
    not_newer = not_newer + 1
  else
    store_item(ix, {tok = ARGV[i], value = ARGV[i + 1], author = ARGV[i + 3],
                topics = ARGV[i + 6], subs = ARGV[i + 7]}, ARGV[i + 2], ARGV[i + 4], expires,
               ARGV[i + 5])
    applied = applied + 1
  end
end
flush(ix)
for i = agents_at, #ARGV, AGENT_FIELDS do
  local agent, topics = ARGV[i + 1], split(ARGV[i + 2])
  if ARGV[i] == 'subscribed' then
    if #topics > 0 and redis.call('EXISTS', K_ATOPICS .. agent) == 0 then
      for n, t in ipairs(topics) do
        redis.call('ZADD', K_ATOPICS .. agent, n, t)
        redis.call('SADD', K_TSUBS .. t, agent)
        redis.call('SADD', K_TOPICS, t)
      end
      redis.call('SADD', K_TAGENTS, agent)
      agents = agents + 1
    end
  elseif #topics > 0 and redis.call('EXISTS', K_PERMS .. agent) == 0 then
    for _, t in ipairs(topics) do redis.call('SADD', K_PERMS .. agent, t) end
    redis.call('SADD', K_PAGENTS, agent)
    agents = agents + 1
  end
end
local t = redis.call('TIME')
local clock_us = t[1] .. string.format('%06d', tonumber(t[2]))
if tonumber(clock_us) > min_ver then min_ver = tonumber(clock_us) end
if tonumber(redis.call('GET', K_VER) or '0') < min_ver then
  redis.call('SET', K_VER, string.format('%d', min_ver))
end
return {applied, not_newer, expired, agents}
