"""Behaviour features in the fast path: what each card and each customer usually does,
learned from the stream itself and kept in Redis, read and updated in screening's one
round trip per batch.

Per card and per customer: how many payments and how much money over 1 h, 1 d, 7 d and
30 d. Each window is an exponentially decayed count and sum (time constant = the window):
one update per payment whatever its rate, nothing to expire one by one, and a payment
arriving late is added with the weight it would have had (the order of arrival does not
change the result). Per card, the time since its previous use. Per customer, a running
mean and spread of the amount (exponentially weighted over about the last
``HORIZON`` payments), whether the merchant category is new for them (among the first
2 KiB of their categories) and whether the terminal is (among their newest 2-4 KiB of
terminals: a stolen card is used where its owner does not shop), and per card how many
of its payments in about the last hour were at terminals new to the customer.

Per terminal (the contract's ``terminal_id``: a card reader, an ATM, a web shop): its
payments and the frauds among them that labels have confirmed, over
``terminals.TERMINAL_WINDOW_DAYS`` days that end ``fraud_terminal_delay_days`` before the
payment's day (chargebacks come days later: the last days' counts are incomplete and
would read as safe). Kept by day for 64 days (``terminals``); a label that arrives
late lands in its payment's day (``agents.fraud.labels``). A customer's categories and
terminals are a key of their own, written when they change or are about to expire (not
with every payment: they are most of a customer's bytes).
Each payment's terminal, day and card are kept under its transaction id for
``fraud_labels_ttl_s``: what a label needs to find it.

Every value describes the history *before* the payment (it is then added). A re-delivered
payment gets the very answer it got the first time: the answer is kept under the
transaction id for ``fraud_features_dedupe_s`` and the state is not updated again.
Amounts are in GBP (converted with ``fraud_fx_per_gbp``); a payment whose currency has no
rate is counted but adds no amount, and the customer's mean is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import msgpack
import numpy as np

from agents.fraud.terminals import TERMINAL_FUNCTIONS

#: the windows, and their time constants in milliseconds
WINDOWS = ("1h", "1d", "7d", "30d")
TAUS_MS = (3_600_000, 86_400_000, 604_800_000, 2_592_000_000)
#: the customer's mean and spread follow about this many recent payments
HORIZON = 50
#: the key space: ``<prefix>:bhv:...``
NAMESPACE = "bhv"
#: A batch's features, as Lua functions screening's batch script calls: ``behave_batch``
#: appends each payment's answer (25 numbers, MessagePack: ``Features.parse``) to out.
#: Each state is one MessagePack value, all read with one MGET and each written once (a
#: hash per entity and commands per payment cost 55 us a payment in Redis).
BEHAVE_FUNCTION = (
    TERMINAL_FUNCTIONS
    + r"""
local TAUS = {3600000, 86400000, 604800000, 2592000000}
local function r2(x) return math.floor(x * 100 + 0.5) / 100 end
local function roll(st, ts, amount, out)
  -- st: {t, c1..c4, s1..s4, ...}; appends the decayed counts and sums before this
  -- payment to out, then adds the payment to st (with its weight if it came late)
  local t = st[1] or ts
  local now = math.max(t, ts)
  for i = 1, 4 do  -- one of the two weights is exp(0) = 1: not computed
    local f = t == now and 1 or math.exp((t - now) / TAUS[i])
    local c, s = (st[i + 1] or 0) * f, (st[i + 5] or 0) * f
    out[#out + 1] = r2(c)
    out[#out + 1] = r2(s)
    local w = ts == now and 1 or math.exp((ts - now) / TAUS[i])
    st[i + 1], st[i + 5] = c + w, s + w * amount
  end
  st[1] = now
end
local function behave(card, user, known, ts, amount, category, tid, horizon)
  -- one payment against its card's and customer's states (updated in place; the
  -- customer's categories and terminals, ``known``, marked ``changed`` when they change)
  local priced = amount ~= ""
  local value = priced and tonumber(amount) or 0
  local out = {}
  roll(card, ts, value, out)
  local last = card[10]
  out[#out + 1] = (last and ts >= last) and (ts - last) or -1
  if (not last) or ts > last then card[10] = ts end
  roll(user, ts, value, out)
  local n, mean, var, cats = user[10] or 0, user[11] or 0, user[12] or 0, known[1] or "\31"
  out[#out + 1] = n
  out[#out + 1] = r2(mean)
  out[#out + 1] = r2(math.sqrt(var))
  if priced then
    local a = 1 / math.min(n + 1, horizon)
    local d = value - mean
    n, mean, var = n + 1, mean + a * d, (1 - a) * (var + a * d * d)
  end
  local new = string.find(cats, "\31" .. category .. "\31", 1, true) == nil
  out[#out + 1] = new and 1 or 0
  if new and #cats < 2048 then cats, known.changed = cats .. category .. "\31", true end
  -- the customer's recent terminals: the newest ~2-4 KiB of them, the oldest dropped
  local terms = known[2] or "\31"
  if tid == "" then
    out[#out + 1] = -1
    out[#out + 1] = -1
  else
    local fresh = string.find(terms, "\31" .. tid .. "\31", 1, true) == nil
    out[#out + 1] = fresh and 1 or 0
    -- the card's payments at terminals new to the customer, decayed over an hour
    local t = card[12] or ts
    local now = math.max(t, ts)
    local c = (card[11] or 0) * math.exp((t - now) / 3600000)
    out[#out + 1] = r2(c)
    if fresh then
      card[11], card[12] = c + math.exp((ts - now) / 3600000), now
      terms, known.changed = terms .. tid .. "\31", true
      if #terms > 4096 then terms = string.sub(terms, string.find(terms, "\31", 2048, true)) end
    end
  end
  user[10], user[11], user[12], known[1], known[2] = n, mean, var, cats, terms
  return out
end
local function fields(s)
  local out, i = {}, 1
  while true do
    local j = string.find(s, "\31", i, true)
    if not j then
      out[#out + 1] = string.sub(s, i)
      return out
    end
    out[#out + 1] = string.sub(s, i, j - 1)
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
    local answer = answers[seen] or got[K * i - 2]
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
      answer = cmsgpack.pack(values)
      answers[seen] = answer
      redis.call("SET", seen, answer, "PX", dedupe)
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


#: the answer's numbers, in order, as a decision's signals (the card's and the customer's
#: payments and amounts per window, then the rest)
_WINDOWED = tuple(f"{kind}_{w}" for w in WINDOWS for kind in ("payments", "amount"))
SIGNALS = (
    *(f"card_{name}" for name in _WINDOWED), "card_idle_s",
    *(f"customer_{name}" for name in _WINDOWED),
    "customer_history", "customer_mean_amount", "customer_amount_std", "new_category",
    "new_terminal", "card_new_terminals_1h", "terminal_payments", "terminal_frauds",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Features:
    """A payment's behaviour features: the history before it (amounts in GBP, counts and
    sums rounded to hundredths: they are estimates)."""

    values: tuple[float, ...]

    @classmethod
    def parse(cls, answer: bytes) -> Features:
        values = msgpack.unpackb(answer)
        if len(values) != len(SIGNALS):
            raise ValueError(f"behaviour answer with {len(values)} values, not {len(SIGNALS)}")
        return cls(tuple(values))

    def signals(self) -> dict[str, float | int | bool | None]:
        out: dict[str, float | int | bool | None] = {}
        self.into(out)
        return out

    def into(self, out: dict[str, Any]) -> None:
        """Write the signals into a decision's ``out`` (no dict of their own in between:
        one per payment, the hot path)."""
        v = self.values
        out.update(zip(SIGNALS, v, strict=True))
        # the values that say "none" with a negative number, and the flags: said here
        # only (one decision per payment); the properties below read them from here
        seen = int(v[17]) > 0  # the customer has history to compare with
        out["card_idle_s"] = None if v[8] < 0 else v[8] / 1000
        out["new_category"] = bool(v[20]) and seen
        out["new_terminal"] = None if v[21] < 0 else bool(v[21]) and seen
        out["card_new_terminals_1h"] = None if v[22] < 0 else v[22]
        out["terminal_payments"] = None if v[23] < 0 else int(v[23])
        out["terminal_frauds"] = None if v[24] < 0 else int(v[24])

    @staticmethod
    def columns(batch: Sequence[Features]) -> dict[str, np.ndarray]:
        """The batch's signals as the risk model reads them (float64 columns: NaN where
        ``into`` says None, 1.0 and 0.0 for its flags), computed at once from the numbers
        rather than read back from each decision's signals: the same values (a property
        test holds them so), without a pass over each decision's dict for them (the
        model's input is on the hot path)."""
        n = len(batch)
        v = np.fromiter(chain.from_iterable(f.values for f in batch), np.float64, n * len(SIGNALS))
        v = v.reshape(n, len(SIGNALS))
        cols = {name: v[:, j] for j, name in enumerate(SIGNALS)}
        seen = np.trunc(v[:, 17]) > 0
        nan = np.nan
        cols["card_idle_s"] = np.where(v[:, 8] < 0, nan, v[:, 8] / 1000)
        cols["new_category"] = ((v[:, 20] != 0) & seen).astype(np.float64)
        cols["new_terminal"] = np.where(v[:, 21] < 0, nan, (v[:, 21] != 0) & seen)
        cols["card_new_terminals_1h"] = np.where(v[:, 22] < 0, nan, v[:, 22])
        cols["terminal_payments"] = np.where(v[:, 23] < 0, nan, np.trunc(v[:, 23]))
        cols["terminal_frauds"] = np.where(v[:, 24] < 0, nan, np.trunc(v[:, 24]))
        return cols

    def card_count(self, window: int) -> float:
        """The card's payments in window ``window`` (0: 1 h ... 3: 30 d)."""
        return float(self.values[2 * window])

    @property
    def card_idle_s(self) -> float | None:
        """Since the card's previous use (None: its first, or the payment came late)."""
        return self.signals()["card_idle_s"]

    @property
    def user_payments(self) -> int:
        """The customer's priced payments so far (the mean and spread follow the last
        ``HORIZON`` of them)."""
        return int(self.values[17])

    @property
    def user_mean(self) -> float:
        return float(self.values[18])

    @property
    def user_std(self) -> float:
        return float(self.values[19])

    @property
    def new_category(self) -> bool:
        """The merchant category is new for a customer with history."""
        return bool(self.signals()["new_category"])

    @property
    def terminal_payments(self) -> int | None:
        """The terminal's payments over its window (None: the payment named no terminal)."""
        return self.signals()["terminal_payments"]  # type: ignore[return-value]

    @property
    def terminal_frauds(self) -> int | None:
        """Of those, the ones labels have confirmed as fraud so far."""
        return self.signals()["terminal_frauds"]  # type: ignore[return-value]

    @property
    def new_terminal(self) -> bool | None:
        """The terminal is not among the customer's recent ones (None: no terminal named;
        False for a customer's very first payment: nothing to compare with)."""
        return self.signals()["new_terminal"]  # type: ignore[return-value]

    def card_history(self) -> float:
        """The card's payments in 30 days, before the last hour's."""
        return max(self.card_count(3) - self.card_count(0), 0.0)

    def card_daily_rate(self) -> float:
        """The card's usual payments a day: its 30 days before the last hour."""
        return self.card_history() / 30


class BehaviourKeys:
    """The Redis keys of the features, under the service's prefix. The batch script
    makes a payment's own from its ids (``behave_keys``: ``card:<card>``,
    ``cust:<customer>``, ``seen:<transaction>``, ``tdays:<terminal>``, ``tx:<transaction>``,
    ``known:<customer>``, ``flag:<card>``); the ids are contract ``Id`` values, their
    charset and length checked before they reach a key."""

    def __init__(self, service_prefix: str) -> None:
        self.prefix = f"{service_prefix}:{NAMESPACE}"

    def of(self, card_id: str, user_id: str, transaction_id: str,
           terminal_id: str | None) -> list[str]:  # fmt: skip
        """The card's, the customer's, the payment's answer, the terminal's (the answer's
        again when there is none), the payment's record and the customer's categories and
        terminals: what the script makes."""
        p = self.prefix
        seen = f"{p}:seen:{transaction_id}"
        term = seen if terminal_id is None else self.terminal(terminal_id)
        return [f"{p}:card:{card_id}", f"{p}:cust:{user_id}", seen, term,
                self.record(transaction_id), f"{p}:known:{user_id}"]  # fmt: skip

    def flag(self, card_id: str) -> str:
        """When the card last had a payment flagged (held or escalated) by the rules or the
        model: its later payments are held while that is recent."""
        return f"{self.prefix}:flag:{card_id}"

    def record(self, transaction_id: str) -> str:
        """Where a screened payment's terminal, day and label are kept."""
        return f"{self.prefix}:tx:{transaction_id}"

    def terminal(self, terminal_id: str) -> str:
        """A terminal's days (``terminals``); ``term:<terminal>`` under older releases
        (moved here when the terminal is next used, or labelled)."""
        return f"{self.prefix}:tdays:{terminal_id}"

    def older_terminal(self, terminal_id: str) -> str:
        """Where releases before ``tdays`` kept a terminal's ring."""
        return f"{self.prefix}:term:{terminal_id}"
