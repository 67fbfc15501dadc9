"""Labels: what became known about payments after the fact (``fraud.labels``).

A label finds its payment by the record screening kept under the transaction id (its
terminal, day and card, ``behaviour``); a fraud label adds one to its terminal's frauds
on the payment's day, so the terminal's risk counts it from then on, and marks its card
as compromised for ``CONFIRMED_MS`` (screening escalates the card's later payments); a
label that turns a payment back to genuine takes both away again. Applying a label twice
changes nothing: the record keeps the payment's current label, and only a change moves a
count.

A label whose payment is unknown (never screened with features on, or older than
``fraud_labels_ttl_s``) cannot be applied: it goes to ``fraud.labels.dlq`` with that
reason. Malformed labels never reach here: the runner dead-letters them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import msgpack
import redis

from agents.fraud.behaviour import BehaviourKeys
from agents.fraud.terminals import RING_FUNCTIONS
from ingestion.contracts import FraudLabel
from ingestion.runner import Received, Rejection

Outcome = Literal["applied", "changed", "duplicate", "unknown"]
#: how long a confirmed fraud marks its card: its later payments are escalated
CONFIRMED_MS = 30 * 86_400_000

#: Per label: KEYS record, terminal (the record again when none), the card's flag, the
#: terminal's key under older releases (moved to the terminal's when there; the record
#: again when none); ARGV[1] how long a confirmed fraud marks its card (ms), then each label.
#: Returns per label 0 unknown, 1 applied, 2 changed, 3 the same again.
_APPLY = (
    RING_FUNCTIONS
    + r"""
local marked = ARGV[1]
local out = {}
for i = 1, #KEYS / 4 do
  local rec_key, term_key, flag_key, old_key = KEYS[4 * i - 3], KEYS[4 * i - 2],
                                               KEYS[4 * i - 1], KEYS[4 * i]
  local label = ARGV[i + 1]
  local raw = redis.call("GET", rec_key)
  if not raw then
    out[i] = 0
  else
    local tid, day, was, card = cmsgpack.unpack(raw)
    if was == label then
      out[i] = 3
    else
      local step = 0
      if label == "fraud" then step = 1 elseif was == "fraud" then step = -1 end
      if step ~= 0 and tid ~= "" then
        local got, ttl = redis.call("GET", term_key), nil
        if not got and old_key ~= rec_key then got, ttl = ring_moved(old_key) end
        if got then
          local st = ring_load(got)
          if st.P[day] then  -- the day is still kept
            st.F[day] = math.max((st.F[day] or 0) + step, 0)
          end
          if ttl and ttl > 0 then  -- moved from the older release's key, with its TTL
            redis.call("SET", term_key, ring_pack(st), "PX", ttl)
          elseif ttl then  -- it had none
            redis.call("SET", term_key, ring_pack(st))
          elseif st.P[day] then
            redis.call("SET", term_key, ring_pack(st), "KEEPTTL")
          end
        end
      end
      if label == "fraud" then
        redis.call("SET", flag_key, "fraud", "PX", marked)
      elseif was == "fraud" and redis.call("GET", flag_key) == "fraud" then
        redis.call("DEL", flag_key)
      end
      redis.call("SET", rec_key, cmsgpack.pack(tid, day, label, card), "KEEPTTL")
      out[i] = was == "" and 1 or 2
    end
  end
end
return out
"""
)
_OUTCOMES: dict[int, Outcome] = {0: "unknown", 1: "applied", 2: "changed", 3: "duplicate"}


@dataclass
class LabelStats:
    """What the labels did (the agent's counters)."""

    outcomes: Counter[str] = field(default_factory=Counter)


class LabelStore:
    """Applies labels to the features screening keeps; two round trips a batch."""

    def __init__(self, client: redis.Redis, service_prefix: str) -> None:
        self.client = client
        self.keys = BehaviourKeys(service_prefix)
        self._apply = client.register_script(_APPLY)
        self.stats = LabelStats()

    def apply(self, labels: Sequence[FraudLabel]) -> list[Outcome]:
        """Each label's outcome, in order (a label twice in one batch: the second is a
        duplicate)."""
        if not labels:
            return []
        records = [self.keys.record(x.transaction_id) for x in labels]
        got = self.client.mget(records)
        keys: list[str] = []
        args: list[str] = [str(CONFIRMED_MS)]
        for label, rec, raw in zip(labels, records, got, strict=True):
            tid, card = _parts(raw)
            keys += [rec, self.keys.terminal(tid) if tid else rec,
                     self.keys.flag(card) if card else rec,
                     self.keys.older_terminal(tid) if tid else rec]  # fmt: skip
            args.append(label.label)
        codes = self._apply(keys=keys, args=args)
        out = [_OUTCOMES[int(c)] for c in codes]
        self.stats.outcomes.update(out)
        return out

    def handler(self, batch: Sequence[Received[FraudLabel]]) -> list[Rejection]:
        """The runner's handler: apply, and hand back the labels no payment is known for."""
        outcomes = self.apply([r.event for r in batch])
        return [
            Rejection(
                r,
                f"no screened payment {r.event.transaction_id!r} is known (never "
                "screened with fraud features, or older than VIGIL_FRAUD_LABELS_TTL_S)",
            )
            for r, o in zip(batch, outcomes, strict=True)
            if o == "unknown"
        ]


def _parts(raw: bytes | str | None) -> tuple[str | None, str | None]:
    """A payment record's terminal and card (None: not there)."""
    if raw is None:
        return None, None
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(raw)
    values = list(unpacker)
    tid, card = (values + [None] * 4)[0], (values + [None] * 4)[3]
    return (tid if isinstance(tid, str) and tid else None,
            card if isinstance(card, str) and card else None)  # fmt: skip
