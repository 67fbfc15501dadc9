"""Labels: what became known about payments after the fact (``fraud.labels``).

A label finds its payment by the record screening kept under the transaction id (its
terminal and day, ``behaviour``); a fraud label adds one to its terminal's frauds on the
payment's day, so the terminal's risk counts it from then on (a label that turns a
payment back to genuine takes it away again). Applying a label twice changes nothing:
the record keeps the payment's current label, and only a change moves a count.

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

from agents.fraud.behaviour import TERMINAL_SLOTS, BehaviourKeys
from ingestion.contracts import FraudLabel
from ingestion.runner import Received, Rejection

Outcome = Literal["applied", "changed", "duplicate", "unknown"]

#: Per label: KEYS record, terminal (the record again when none); ARGV[1] the slots, then
#: each label.
#: Returns per label 0 unknown, 1 applied, 2 changed, 3 the same again.
_APPLY = r"""
local SLOTS = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS / 2 do
  local rec_key, term_key, label = KEYS[2 * i - 1], KEYS[2 * i], ARGV[i + 1]
  local raw = redis.call("GET", rec_key)
  if not raw then
    out[i] = 0
  else
    local tid, day, was = cmsgpack.unpack(raw)
    if was == label then
      out[i] = 3
    else
      local step = 0
      if label == "fraud" then step = 1 elseif was == "fraud" then step = -1 end
      if step ~= 0 and tid ~= "" then
        local got = redis.call("GET", term_key)
        if got then
          local st = {cmsgpack.unpack(got)}
          local s = day % SLOTS + 1
          if st[s] == day then
            st[2 * SLOTS + s] = math.max((st[2 * SLOTS + s] or 0) + step, 0)
            redis.call("SET", term_key, cmsgpack.pack(unpack(st, 1, 3 * SLOTS)), "KEEPTTL")
          end
        end
      end
      redis.call("SET", rec_key, cmsgpack.pack(tid, day, label), "KEEPTTL")
      out[i] = was == "" and 1 or 2
    end
  end
end
return out
"""
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
        args: list[str] = [str(TERMINAL_SLOTS)]
        for label, rec, raw in zip(labels, records, got, strict=True):
            tid = _terminal_of(raw)
            keys += [rec, self.keys.terminal(tid) if tid else rec]
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


def _terminal_of(raw: bytes | str | None) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(raw)
    tid = next(unpacker, "")
    return tid if isinstance(tid, str) and tid else None
