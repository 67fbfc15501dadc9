"""A terminal's payments and confirmed frauds by day, kept for its last ``TERMINAL_SLOTS``
days: what the behaviour features read a terminal's window from (``behaviour``), and
labels add their frauds to (``labels``), as Lua functions both scripts include."""

from __future__ import annotations

import msgpack

#: a terminal's risk: its payments and confirmed frauds over this many days
TERMINAL_WINDOW_DAYS = 28
#: the days a terminal keeps, up to its newest (more than the window and the longest delay)
TERMINAL_SLOTS = 64

#: A terminal's days, as Lua (the labels' script shares them): in Lua {P = {[day] =
#: payments}, F = {[day] = frauds}, newest = the latest day}; stored (``tdays:<terminal>``)
#: as "r" then (day, payments, frauds) for each day it had payments on among the SLOTS
#: days up to the newest. Most terminals have payments on a few days of the window: the
#: ring of 64 slots older releases packed whole on every write (``term:<terminal>``,
#: still read) cost 15 us a payment in the embedded append-only Valkey, and a loop over
#: its slots 12.
RING_FUNCTIONS = r"""
local SLOTS, WINDOW = 64, 28
local function ring_load(raw)
  local st = {P = {}, F = {}}
  if not raw then return st end
  local v = {cmsgpack.unpack(raw)}
  local function day(d, p, f)
    st.P[d], st.F[d] = p or 0, f or 0
    if not st.newest or d > st.newest then st.newest = d end
  end
  if v[1] == "r" then
    for i = 2, #v - 2, 3 do day(v[i], v[i + 1], v[i + 2]) end
  else  -- the whole ring: {day of slot 1..SLOTS, payments 1..SLOTS, frauds 1..SLOTS}
    for s = 1, SLOTS do
      if v[s] then day(v[s], v[SLOTS + s], v[2 * SLOTS + s]) end
    end
  end
  return st
end
local function ring_moved(old)
  -- an older release's ring (``term:<terminal>``) taken from its key: it, and its PTTL
  local raw = redis.call("GET", old)
  if not raw then return nil, nil end
  local ttl = redis.call("PTTL", old)
  redis.call("DEL", old)
  return raw, ttl
end
local function ring_pack(st)
  local out, n = {"r"}, 1
  for d, p in pairs(st.P) do
    if d > st.newest - SLOTS then
      out[n + 1], out[n + 2], out[n + 3] = d, p, st.F[d] or 0
      n = n + 3
    end
  end
  return cmsgpack.pack(unpack(out, 1, n))
end
"""

#: the terminal's window for a payment, and its payment counted (``behave_batch`` calls it)
TERMINAL_FUNCTIONS = (
    RING_FUNCTIONS
    + r"""
local function terminal(st, ts, delay, out, today)
  -- appends the payments and frauds of the WINDOW days ending delay days before ts's
  -- day, then counts ts's payment on its day: not one older than the last SLOTS days
  -- kept, nor one dated after tomorrow by the server's clock (one such payment would
  -- move the newest day ahead, and every real day out of those kept)
  local day = math.floor(ts / 86400000)
  local P, F = st.P, st.F
  local p, f = 0, 0
  for d = day - delay - WINDOW + 1, day - delay do
    local c = P[d]
    if c then p, f = p + c, f + F[d] end
  end
  out[#out + 1] = p
  out[#out + 1] = f
  if day > today + 1 or (st.newest and day <= st.newest - SLOTS) then return day end
  P[day], F[day] = (P[day] or 0) + 1, F[day] or 0
  if not st.newest or day > st.newest then st.newest = day end
  return day
end
"""
)


def terminal_days(raw: bytes | None) -> dict[int, tuple[int, int]]:
    """A terminal's stored ring as {day: (payments, frauds)} (``RING_FUNCTIONS``; either
    layout): for tools and tests that look inside Redis."""
    if raw is None:
        return {}
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(raw)
    v = list(unpacker)
    if v and v[0] == "r":
        return {int(v[i]): (int(v[i + 1]), int(v[i + 2])) for i in range(1, len(v) - 2, 3)}
    slots = len(v) // 3
    return {int(v[i]): (int(v[slots + i] or 0), int(v[2 * slots + i] or 0))
            for i in range(slots) if v[i] is not None}  # fmt: skip
