"""The Lua of the behaviour features (``behaviour``): the functions screening's batch script
calls to read, answer and update each payment's card, customer and terminal states."""

from agents.fraud.terminals import TERMINAL_FUNCTIONS

#: A batch's features, as Lua functions screening's batch script calls: ``behave_batch``
#: appends each payment's answer (25 numbers as little-endian doubles: ``Answers``) to
#: out; the answer kept for a re-delivery is MessagePack.
#: Each state is one MessagePack value, all read with one MGET and each written once (a
#: hash per entity and commands per payment cost 55 us a payment in Redis).
BEHAVE_FUNCTION = (
    TERMINAL_FUNCTIONS
    + r"""
local TAUS = {3600000, 86400000, 604800000, 2592000000}
-- the library functions as locals, and answers appended at a counter (not #out, which
-- searches the table's border): a payment's arithmetic cost Redis 4.0 us with them
-- looked up by name at each use, 3.0 so (the same run, the embedded Valkey)
local exp, floor, fmax, fmin, sqrt = math.exp, math.floor, math.max, math.min, math.sqrt
local find, sub, match = string.find, string.sub, string.match
local function roll(st, ts, amount, out, k)
  -- st: {t, c1..c4, s1..s4, ...}; writes the decayed counts and sums before this
  -- payment to out[k + 1 ..] (rounded to hundredths), then adds the payment to st (with
  -- its weight if it came late); returns the new k
  local t = st[1] or ts
  local now = fmax(t, ts)
  for i = 1, 4 do  -- one of the two weights is exp(0) = 1: not computed
    local f = t == now and 1 or exp((t - now) / TAUS[i])
    local c, s = (st[i + 1] or 0) * f, (st[i + 5] or 0) * f
    out[k + 1] = floor(c * 100 + 0.5) / 100
    out[k + 2] = floor(s * 100 + 0.5) / 100
    k = k + 2
    local w = ts == now and 1 or exp((ts - now) / TAUS[i])
    st[i + 1], st[i + 5] = c + w, s + w * amount
  end
  st[1] = now
  return k
end
local function behave(card, user, known, ts, amount, category, tid, horizon)
  -- one payment against its card's and customer's states (updated in place; the
  -- customer's categories and terminals, ``known``, marked ``changed`` when they change)
  local priced = amount ~= ""
  local value = priced and tonumber(amount) or 0
  local out = {}
  local k = roll(card, ts, value, out, 0)
  local last = card[10]
  out[k + 1] = (last and ts >= last) and (ts - last) or -1
  if (not last) or ts > last then card[10] = ts end
  k = roll(user, ts, value, out, k + 1)
  local n, mean, var, cats = user[10] or 0, user[11] or 0, user[12] or 0, known[1] or "\31"
  out[k + 1] = n
  out[k + 2] = floor(mean * 100 + 0.5) / 100
  out[k + 3] = floor(sqrt(var) * 100 + 0.5) / 100
  if priced then
    local a = 1 / fmin(n + 1, horizon)
    local d = value - mean
    n, mean, var = n + 1, mean + a * d, (1 - a) * (var + a * d * d)
  end
  local new = find(cats, "\31" .. category .. "\31", 1, true) == nil
  out[k + 4] = new and 1 or 0
  if new and #cats < 2048 then cats, known.changed = cats .. category .. "\31", true end
  -- the customer's recent terminals: the newest ~2-4 KiB of them, the oldest dropped
  local terms = known[2] or "\31"
  if tid == "" then
    out[k + 5] = -1
    out[k + 6] = -1
  else
    local fresh = find(terms, "\31" .. tid .. "\31", 1, true) == nil
    out[k + 5] = fresh and 1 or 0
    -- the card's payments at terminals new to the customer, decayed over an hour
    local t = card[12] or ts
    local now = fmax(t, ts)
    local c = (card[11] or 0) * exp((t - now) / 3600000)
    out[k + 6] = floor(c * 100 + 0.5) / 100
    if fresh then
      card[11], card[12] = c + exp((ts - now) / 3600000), now
      terms, known.changed = terms .. tid .. "\31", true
      if #terms > 4096 then terms = sub(terms, find(terms, "\31", 2048, true)) end
    end
  end
  user[10], user[11], user[12], known[1], known[2] = n, mean, var, cats, terms
  return out
end
local SEVEN = "^([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)$"
local function fields(s)
  -- a payment's seven fields at once (one pattern); any other shape field by field
  local a, b, c, d, e, f, g = match(s, SEVEN)
  if a then return {a, b, c, d, e, f, g} end
  local out, i = {}, 1
  while true do
    local j = find(s, "\31", i, true)
    if not j then
      out[#out + 1] = sub(s, i)
      return out
    end
    out[#out + 1] = sub(s, i, j - 1)
    i = j + 1
  end
end
local function behave_keys(P, f)
  -- a payment's card, customer, answer and terminal keys (its answer's again when it names
  -- no terminal: never read) and its customer's categories and terminals, the layout of
  -- BehaviourKeys, under P ("<prefix>:bhv")
  local seen = P .. ":seen:" .. f[7]
  return P .. ":card:" .. f[5], P .. ":cust:" .. f[6], seen,
         f[4] == "" and seen or (P .. ":tdays:" .. f[4]), P .. ":known:" .. f[6]
end
local K = 5  -- keys a payment
local PACKED = {}  -- the struct format of n doubles, by n
local function numbers(values)
  -- an answer as the client reads it: its numbers as little-endian doubles, one after
  -- the other (a part's answers are read as one array, none decoded on its own)
  local n = #values
  local format = PACKED[n]
  if not format then
    format = "<" .. string.rep("d", n)
    PACKED[n] = format
  end
  return struct.pack(format, unpack(values, 1, n))
end
local function behave_batch(P, parsed, n, ttl, dedupe, horizon, delay, label_ttl, out)
  -- n payments, parsed[i] the fields of one: ts, amount, category, terminal id ("": none),
  -- card, customer and transaction ids (one argument a payment, joined by \31, which no
  -- id, label or number holds: the client encodes one string a payment, and the keys are
  -- made here from the ids, which the contracts checked). One MGET for all; each state
  -- decoded once and written once (a customer's categories and terminals only when they
  -- change, or to keep them from expiring: the bulk of a customer's bytes, and every
  -- write goes to the append-only file too); a payment already answered (a re-delivery,
  -- or twice in the batch) gets that answer and changes nothing.
  if n == 0 then return end
  local keys, at = {}, {}
  local clock = redis.call("TIME")
  local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
  local today = math.floor(now / 86400000)
  ttl = tonumber(ttl)
  local outlive = ttl + math.floor(ttl / 4)
  for i = 1, n do
    local c, u, s, t, k = behave_keys(P, parsed[i])
    local j = K * (i - 1)
    keys[j + 1], keys[j + 2], keys[j + 3], keys[j + 4], keys[j + 5] = c, u, s, t, k
  end
  local got = redis.call("MGET", unpack(keys))
  local states, answers = {}, {}
  local function state(i)
    local key = keys[i]
    local st = states[key]
    if st == nil then
      st = got[i] and {cmsgpack.unpack(got[i])} or {}
      states[key] = st
    end
    return st
  end
  local function known(i)  -- the customer's categories and terminals, and their state
    local st = state(K * i - 3)
    local kn = states[keys[K * i]]
    if kn == nil then
      kn = got[K * i] and {cmsgpack.unpack(got[K * i])} or {}
      if type(st[13]) == "string" then  -- kept in the customer's state by older releases
        if not got[K * i] then kn, kn.changed = {st[13], st[14]}, true end
        st[13], st[14] = nil, nil
      end
      states[keys[K * i]], at[keys[K * i]] = kn, "known"
    end
    return kn
  end
  for i = 1, n do
    local seen = keys[K * i - 2]
    local answer = answers[seen]
    local kept = got[K * i - 2]  -- its answer, kept as MessagePack (any release reads it)
    if not answer and kept then
      answer = numbers(cmsgpack.unpack(kept))
      answers[seen] = answer
    end
    if not answer then
      local f = parsed[i]
      local ts, tid = tonumber(f[1]), f[4]
      local user = state(K * i - 3)
      local kn = known(i)
      local values = behave(state(K * i - 4), user, kn, ts, f[2], f[3], tid, horizon)
      -- written again before it can expire (by the server's clock: it expires by it;
      -- kept in value 15, which older releases, reading 13 and 14, leave alone)
      if kn.changed or now - (tonumber(user[15]) or 0) > ttl / 4 then
        user[15], kn.changed = now, true
      end
      local day = math.floor(ts / 86400000)
      if tid ~= "" then
        local tk = keys[K * i - 1]
        if states[tk] == nil then
          local raw = got[K * i - 1] or ring_moved(P .. ":term:" .. tid)
          states[tk], at[tk] = ring_load(raw), "terminal"
        end
        day = terminal(states[tk], ts, delay, values, today)
      else
        values[#values + 1] = -1
        values[#values + 1] = -1
      end
      answer = numbers(values)
      answers[seen] = answer
      redis.call("SET", seen, cmsgpack.pack(values), "PX", dedupe)
      redis.call("SET", P .. ":tx:" .. f[7], cmsgpack.pack(tid, day, "", f[5]), "PX",
                 label_ttl, "NX")
    end
    out[#out + 1] = answer
  end
  for key, st in pairs(states) do
    local kind = at[key]
    if kind == "terminal" then
      redis.call("SET", key, ring_pack(st), "PX", ttl)
    elseif kind == "known" then  -- a customer's categories and terminals
      if st.changed then  -- outlives the customer's state (written every payment)
        redis.call("SET", key, cmsgpack.pack(st[1], st[2]), "PX", outlive)
      end
    else
      redis.call("SET", key, cmsgpack.pack(unpack(st, 1, 15)), "PX", ttl)
    end
  end
end
"""
)
