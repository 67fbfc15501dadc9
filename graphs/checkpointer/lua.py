"""Server-side scripts: one round trip to read a checkpoint and refresh its expiry.

Keys are derived inside the script from the thread prefix, so this targets a single
Redis (standalone or primary/replica), not Redis Cluster.
"""

from __future__ import annotations

import hashlib

#: ARGV: thread key prefix T, namespace, checkpoint id ("" = latest), ttl in ms (0 = none)
#: Returns false, or {id, checkpoint, metadata, parent, {write field, value, ...},
#: {blob ref, ...}, {blob value or false, ...}}
GET_TUPLE = r"""
local T, ns, cid, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local S = "\31"
local ids = T .. ":ids" .. S .. ns
local cpk
if cid == "" then
  -- the latest checkpoint; skip ids whose hash already expired (TTL) and forget them
  cid = nil
  for _ = 1, 64 do
    local top = redis.call("ZREVRANGEBYLEX", ids, "+", "-", "LIMIT", 0, 1)
    if #top == 0 then return false end
    cpk = T .. ":cp" .. S .. ns .. S .. top[1]
    if redis.call("EXISTS", cpk) == 1 then cid = top[1]; break end
    redis.call("ZREM", ids, top[1])
  end
  if cid == nil then return false end
else
  cpk = T .. ":cp" .. S .. ns .. S .. cid
end
local cp = redis.call("HMGET", cpk, "c", "m", "p", "b")
if not cp[1] then return false end
local wk = T .. ":w" .. S .. ns .. S .. cid
local writes = redis.call("HGETALL", wk)
local refs = cmsgpack.unpack(cp[4])
local blobs = {}
local bkeys = {}
for i, ref in ipairs(refs) do bkeys[i] = T .. ":b" .. S .. ns .. S .. ref end
for i = 1, #bkeys, 500 do
  local chunk = redis.call("MGET", unpack(bkeys, i, math.min(i + 499, #bkeys)))
  for j = 1, #chunk do blobs[#blobs + 1] = chunk[j] end
end
if ttl > 0 then
  local function renew(id, blob_keys)
    redis.call("PEXPIRE", T .. ":cp" .. S .. ns .. S .. id, ttl)
    redis.call("PEXPIRE", T .. ":w" .. S .. ns .. S .. id, ttl)
    for _, k in ipairs(blob_keys) do redis.call("PEXPIRE", k, ttl) end
  end
  redis.call("PEXPIRE", ids, ttl)
  redis.call("PEXPIRE", T .. ":ns", ttl)
  renew(cid, bkeys)
  -- reading an older checkpoint still renews what the thread's latest one needs
  local top = redis.call("ZREVRANGEBYLEX", ids, "+", "-", "LIMIT", 0, 1)
  if #top == 1 and top[1] ~= cid then
    local b = redis.call("HGET", T .. ":cp" .. S .. ns .. S .. top[1], "b")
    if b then
      local keys = {}
      for i, ref in ipairs(cmsgpack.unpack(b)) do keys[i] = T .. ":b" .. S .. ns .. S .. ref end
      renew(top[1], keys)
    end
  end
end
return {cid, cp[1], cp[2], cp[3] or "", writes, refs, blobs}
"""

GET_TUPLE_SHA = hashlib.sha1(GET_TUPLE.encode(), usedforsecurity=False).hexdigest()

#: ARGV: T, ns, id, parent id, run id, ttl ms, checkpoint, metadata, blob refs (msgpack),
#: threads key, thread id, run key, run member, then (blob ref, value) pairs to store.
PUT = r"""
local T, ns, cid, parent, run = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local ttl = tonumber(ARGV[6])
local S = "\31"
local bprefix = T .. ":b" .. S .. ns .. S
for i = 14, #ARGV, 2 do redis.call("SET", bprefix .. ARGV[i], ARGV[i + 1]) end
local cpk = T .. ":cp" .. S .. ns .. S .. cid
local ids = T .. ":ids" .. S .. ns
redis.call("HSET", cpk, "c", ARGV[7], "m", ARGV[8], "p", parent, "r", run, "b", ARGV[9])
redis.call("ZADD", ids, 0, cid)
redis.call("SADD", T .. ":ns", ns)
redis.call("SADD", ARGV[10], ARGV[11])
if run ~= "" then redis.call("SADD", ARGV[12], ARGV[13]) end
if ttl > 0 then
  redis.call("PEXPIRE", cpk, ttl)
  redis.call("PEXPIRE", ids, ttl)
  redis.call("PEXPIRE", T .. ":ns", ttl)
  if run ~= "" then redis.call("PEXPIRE", ARGV[12], ttl) end
  -- everything the new latest checkpoint reads, values written long ago included
  for _, ref in ipairs(cmsgpack.unpack(ARGV[9])) do redis.call("PEXPIRE", bprefix .. ref, ttl) end
end
return 1
"""

#: ARGV: writes key, ttl ms, then (overwrite flag "1"/"0", field, record) triples.
PUT_WRITES = r"""
local wk, ttl = ARGV[1], tonumber(ARGV[2])
for i = 3, #ARGV, 3 do
  if ARGV[i] == "1" then
    redis.call("HSET", wk, ARGV[i + 1], ARGV[i + 2])
  else
    redis.call("HSETNX", wk, ARGV[i + 1], ARGV[i + 2])
  end
end
if ttl > 0 then redis.call("PEXPIRE", wk, ttl) end
return 1
"""

SCRIPTS = (GET_TUPLE, PUT, PUT_WRITES)
PUT_SHA = hashlib.sha1(PUT.encode(), usedforsecurity=False).hexdigest()
PUT_WRITES_SHA = hashlib.sha1(PUT_WRITES.encode(), usedforsecurity=False).hexdigest()
