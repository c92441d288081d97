-- snapshot_read.lua: the stored fields of several items of one user, for the snapshotter.
-- One call instead of one HMGET per item: the snapshotter reads thousands per batch.
--
-- KEYS[1] user root
-- ARGV    key tokens (the caller bounds how many)
-- Returns one entry per token, in order: {value, version, author, created_ms,
--         expires_ms, topics_csv, subs_csv}, or {} if the item is gone
local out = {}
for i, tok in ipairs(ARGV) do
  local h = redis.call('HMGET', K_ITEM .. tok,
    'value', 'version', 'author', 'created', 'expires', 'topics', 'subs')
  if h[1] and h[2] then out[i] = h else out[i] = {} end
end
return out
