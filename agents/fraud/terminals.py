"""A terminal's payments and confirmed frauds by day: the ring of daily slots the
behaviour features read a terminal's window from (``behaviour``), and labels add their
frauds to (``labels``), as Lua functions both scripts include."""

from __future__ import annotations

import msgpack

#: a terminal's risk: its payments and confirmed frauds over this many days
TERMINAL_WINDOW_DAYS = 28
#: the daily slots of a terminal's ring (more than the window and the longest delay)
TERMINAL_SLOTS = 64

#: A terminal's ring of daily slots, as Lua (the labels' script shares it): in Lua a table
#: {day of slot 1..SLOTS, payments 1..SLOTS, frauds 1..SLOTS}; stored as "r" then
#: (day, payments, frauds) for each day of the last SLOTS it had payments on. Most
#: terminals have payments on a few days of the window: the whole ring, packed on every
#: write, cost 15 us a payment in an append-only Valkey (older releases stored it whole,
#: and it is still read).
RING_FUNCTIONS = r"""
local SLOTS, WINDOW = 64, 28
local function ring_load(raw)
  if not raw then return {} end
  local v = {cmsgpack.unpack(raw)}
  if v[1] ~= "r" then return v end
  local st = {}
  for i = 2, #v - 2, 3 do
    local d = v[i]
    local s = d % SLOTS + 1
    st[s], st[SLOTS + s], st[2 * SLOTS + s] = d, v[i + 1], v[i + 2]
  end
  return st
end
local function ring_pack(st)
  local newest
  for s = 1, SLOTS do
    local d = st[s]
    if d and (not newest or d > newest) then newest = d end
  end
  local out, n = {"r"}, 1
  for s = 1, SLOTS do
    local d = st[s]
    if d and d > newest - SLOTS then
      out[n + 1], out[n + 2], out[n + 3] = d, st[SLOTS + s] or 0, st[2 * SLOTS + s] or 0
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
local function terminal(st, ts, delay, out)
  -- st: {day of slot 1..SLOTS, payments 1..SLOTS, frauds 1..SLOTS}; appends the
  -- payments and frauds of the WINDOW days ending delay days before ts's, adds ts's
  local day = math.floor(ts / 86400000)
  local p, f = 0, 0
  for d = day - delay - WINDOW + 1, day - delay do
    local s = d % SLOTS + 1
    if st[s] == d then p, f = p + st[SLOTS + s], f + st[2 * SLOTS + s] end
  end
  out[#out + 1] = p
  out[#out + 1] = f
  local s = day % SLOTS + 1
  if st[s] ~= day then
    if st[s] and st[s] > day then return day end  -- its slot holds a later day: too old
    st[s], st[SLOTS + s], st[2 * SLOTS + s] = day, 0, 0
  end
  st[SLOTS + s] = st[SLOTS + s] + 1
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
