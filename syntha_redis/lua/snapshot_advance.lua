-- snapshot_advance.lua: move the capture floor of a user's stream (see
-- capture_floor() in _prelude.lua), or report that entries the capture had not
-- acknowledged are gone.
--
-- The floor is an entry the capture group acknowledged every entry before; no
-- script trims it away, so finding the stream's first entry after it (or none)
-- means something else removed unacknowledged entries: the hard cap, an
-- operator's XTRIM or XDEL, a stream deleted and written anew. The caller then
-- captures the user in full and resets the floor.
--
-- KEYS[1] user root
-- ARGV[1] the new floor: the group's oldest pending entry, else the last
--         acknowledged one (an id of an entry in the stream); '' = only check
-- ARGV[2] ttl of the floor in ms (it lapses when no snapshot captures the user)
-- ARGV[3] '1': reset after a full capture (no gap check; the floor may go back)
-- Returns {1, floor, owner} once moved (a later floor another snapshotter set is
--      kept), or {0, floor, owner} when entries after the old floor are gone
--      (nothing changed); owner = the user's snapshot database record, or ''
local old = redis.call('GET', K_CAPTURED)
local owner = redis.call('GET', K_SNAPSHOT_DB) or ''
local new = ARGV[1]
if ARGV[3] ~= '1' and old == 'lost' then return {0, old, owner} end
if ARGV[3] ~= '1' and old and old ~= '0-0' then
  local first = redis.call('XRANGE', K_STREAM, '-', '+', 'COUNT', 1)[1]
  if not first or id_before(old, first[1]) then return {0, old, owner} end
  if new == '' then return {1, old, owner} end
  if id_before(new, old) then new = old end
end
if new == '' then return {1, old or '', owner} end
redis.call('SET', K_CAPTURED, new, 'PX', ARGV[2])
redis.call('PEXPIRE', K_GONE, ARGV[2])
-- deletions before the floor are captured: their records can go
local at = redis.call('XRANGE', K_STREAM, new, new)[1]
if at then
  for i = 1, #at[2], 2 do
    if at[2][i] == 'ver' then
      redis.call('ZREMRANGEBYSCORE', K_GONE, '-inf', '(' .. at[2][i + 1])
    end
  end
end
return {1, new, owner}
