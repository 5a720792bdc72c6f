"""
The Redis presence store's Lua scripts (realtime.presence.store.RedisPresenceStore): each write
is one script, so "did this user's state on the graphic change" is decided atomically across
servers.
"""

# Shared by the scripts. An entry is JSON {u: user id (string), n: username, a: action} in the
# graphic's `conns` hash; a user's aggregate is JSON {n, a, s: since} in its `users` hash.
# `recompute` re-derives one user's aggregate from the entries and returns
# {user id, username, new action} when it changed. Results are flat arrays:
# {viewing, editing, user1, name1, action1, user2, ...}, or {} when nothing changed.
LUA_COMMON = """
local function recompute(conns_key, users_key, user_id, username, now)
  local state = false
  for _, raw in ipairs(redis.call('HVALS', conns_key)) do
    local e = cjson.decode(raw)
    if e.u == user_id then
      if e.a == 'editing' then state = 'editing'; break end
      state = 'viewing'
    end
  end
  local old_raw = redis.call('HGET', users_key, user_id)
  local old = old_raw and cjson.decode(old_raw)
  if not state then
    if old then
      redis.call('HDEL', users_key, user_id)
      return {user_id, old.n, 'left'}
    end
    return false
  end
  if old and old.a == state then return false end
  redis.call('HSET', users_key, user_id, cjson.encode({n = username, a = state, s = now}))
  return {user_id, username, state}
end

local function result(users_key, changes)
  if #changes == 0 then return {} end
  local viewing, editing = 0, 0
  for _, raw in ipairs(redis.call('HVALS', users_key)) do
    if cjson.decode(raw).a == 'editing' then editing = editing + 1 else viewing = viewing + 1 end
  end
  local out = {viewing, editing}
  for _, change in ipairs(changes) do
    for _, value in ipairs(change) do table.insert(out, value) end
  end
  return out
end

local function put(conn, user_id, username, action, expires, now, key_ttl_ms, graphic_id)
  redis.call('ZADD', KEYS[1], expires, conn)
  redis.call('HSET', KEYS[2], conn, cjson.encode({u = user_id, n = username, a = action}))
  redis.call('SADD', KEYS[4], graphic_id)
  local change = recompute(KEYS[2], KEYS[3], user_id, username, now)
  for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], key_ttl_ms) end
  return result(KEYS[3], change and {change} or {})
end
"""

# KEYS (every script): the graphic's expiry sorted set, entries hash, users hash; the set of
# graphics with entries. ARGV: connection id, user id, username, action, expires, now,
# key TTL in ms, graphic id.
PUT_SCRIPT = (
    LUA_COMMON
    + """
return put(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
"""
)

# As PUT_SCRIPT; an entry still there only gets its expiry pushed back (no aggregate to
# recompute: a heartbeat costs O(log n), however many people watch the graphic).
REFRESH_SCRIPT = (
    LUA_COMMON
    + """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[1], ARGV[5], ARGV[1])
  redis.call('SADD', KEYS[4], ARGV[8])
  for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[7]) end
  return {}
end
return put(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
"""
)

# ARGV: connection id, now, graphic id.
REMOVE_SCRIPT = (
    LUA_COMMON
    + """
local raw = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
if not raw then return {} end
local e = cjson.decode(raw)
redis.call('HDEL', KEYS[2], ARGV[1])
local change = recompute(KEYS[2], KEYS[3], e.u, e.n, ARGV[2])
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[4], ARGV[3]) end
return result(KEYS[3], change and {change} or {})
"""
)

# ARGV: now, graphic id. Whoever runs this first after an entry expires removes it and gets
# the resulting changes: no other server can.
SWEEP_SCRIPT = (
    LUA_COMMON
    + """
local users, order = {}, {}
for _, conn in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])) do
  local raw = redis.call('HGET', KEYS[2], conn)
  if raw then
    local e = cjson.decode(raw)
    if users[e.u] == nil then users[e.u] = e.n; table.insert(order, e.u) end
    redis.call('HDEL', KEYS[2], conn)
  end
  redis.call('ZREM', KEYS[1], conn)
end
local changes = {}
for _, user_id in ipairs(order) do
  local change = recompute(KEYS[2], KEYS[3], user_id, users[user_id], ARGV[1])
  if change then table.insert(changes, change) end
end
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[4], ARGV[2])
  redis.call('DEL', KEYS[2], KEYS[3])
end
return result(KEYS[3], changes)
"""
)
