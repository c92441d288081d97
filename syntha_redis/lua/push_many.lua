-- push_many.lua: store several items of one user atomically: all of them or none.
-- include: _push_item.lua
--
-- Every item is checked (version, post permission, quota, counting the items
-- before it) before any is written, because Redis cannot roll a script back.
--
-- KEYS[1]  user root
-- ARGV[1..6] common head (_prelude.lua); limits as in push.lua (at most the
--           deployment's max_batch_items items)
-- ARGV[7..] 7 per item: key token, msgpack value, author token ('' = none),
--           topic tokens csv, subscriber csv, ttl ms (0 = none),
--           expected version ('' = any, '0' = must not exist)
-- Returns {1, created_ms, version, expires_ms, version, expires_ms, ...} (one pair per item)
--      or the failure of the first item that may not be written (see push.lua)
local prior = replayed()
if prior then return prior end
local lim, bad = checked_head()
if not lim then return bad end
-- at most the deployment's batch, and never more than MAX_ITEMS (~30 us an item)
local MAX_ITEMS = 1000
local items, most = (#ARGV - 6) / 7, MAX_ITEMS
if lim.batch > 0 then most = math.min(lim.batch, MAX_ITEMS) end
if items ~= math.floor(items) or items > most then return refused('items', items, most) end
-- each topic and subscriber of an item is an index entry to write: a batch of
-- many items with many of each would hold the server (batches.MAX_BATCH_ROUTES)
local MAX_ROUTES, routes = 10000, 0
for b = 7, #ARGV, 7 do routes = routes + count(ARGV[b + 3]) + count(ARGV[b + 4]) end
if routes > MAX_ROUTES then return refused('routes', routes, MAX_ROUTES) end
local now, now_s = clock()
prune_for_quotas(now, lim)
local usage = new_usage()
local specs = {}
for b = 7, #ARGV, 7 do
  local spec = {tok = ARGV[b], value = ARGV[b + 1], author = ARGV[b + 2], topics = ARGV[b + 3],
                subs = ARGV[b + 4], ttl = ARGV[b + 5], expected = ARGV[b + 6]}
  local failure = check_item(spec, usage, lim, now)
  if failure then return failure end
  specs[#specs + 1] = spec
end
local out, record = {1, now}, {'1', now_s}
for _, r in ipairs(write_items(specs, now, now_s)) do
  out[#out + 1], record[#out + 1] = r[1], r[3]
  out[#out + 1], record[#out + 1] = r[2], r[4]
end
return remember_as(out, table.concat(record, '|'))
