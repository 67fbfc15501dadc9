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
  redis.call("PEXPIRE", cpk, ttl)
  redis.call("PEXPIRE", wk, ttl)
  redis.call("PEXPIRE", ids, ttl)
  redis.call("PEXPIRE", T .. ":ns", ttl)
  redis.call("PEXPIRE", T .. ":bs" .. S .. ns, ttl)
  for _, k in ipairs(bkeys) do redis.call("PEXPIRE", k, ttl) end
end
return {cid, cp[1], cp[2], cp[3] or "", writes, refs, blobs}
"""

GET_TUPLE_SHA = hashlib.sha1(GET_TUPLE.encode(), usedforsecurity=False).hexdigest()
