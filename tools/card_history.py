"""Each card's last payments, in Redis, for the analyst's case.

Screening writes every payment it sees into its card's sorted set, in the batch script it
already runs (no round trip of its own), scored by when the payment was made: a late event
lands in its place in time, and a re-delivered one is the same member, so it adds nothing.
Only the last ``keep`` payments of a card are kept, for the card-location TTL after its last
use. The fraud graph reads them once when it gathers a case's context (``recent``).

A member is the payment's fields joined by the unit separator (0x1f), which no field may
hold: ids and labels refuse every control character, the merchant's text all but tab and
newline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import redis
from pydantic import TypeAdapter, ValidationError

from ingestion.contracts import Transaction
from ingestion.contracts.base import ID_MAX, Id
from ingestion.redis_keys import as_text

#: the service's key space for card histories: ``<service prefix>:recent:<card id>``
NAMESPACE = "recent"
#: a merchant's name is kept to this many characters (the case's JSON is bounded)
MERCHANT_MAX = 80
#: a payment's fields, in the member's order (``ms`` first: the time it was made, in ms)
FIELDS = ("ms", "transaction_id", "amount", "currency", "merchant", "merchant_category",
          "channel", "city", "country", "lat", "lon")  # fmt: skip
_CARD_ID: TypeAdapter[str] = TypeAdapter(Id)

#: One batch's payments added to their cards (``n`` of them from ``ARGV[a]`` on: card id,
#: time in ms, member); the set cut to its last ``keep``; returns where the arguments end.
RECORD_FUNCTION = r"""
local function record_recent(prefix, n, keep, ttl, a)
  for _ = 1, n do
    local key = prefix .. ARGV[a]
    redis.call("ZADD", key, ARGV[a + 1], ARGV[a + 2])
    redis.call("ZREMRANGEBYRANK", key, 0, -keep - 1)
    redis.call("EXPIRE", key, ttl)
    a = a + 3
  end
  return a
end
"""


def key_prefix(service_prefix: str) -> str:
    """The prefix of the card-history keys of a service whose Redis prefix this is."""
    return f"{service_prefix}:{NAMESPACE}:"


class CardHistory:
    """``record`` a payment (the arguments screening's script takes), read a card's
    ``recent`` payments back, newest first."""

    def __init__(
        self, client: redis.Redis, *, prefix: str = key_prefix("vigil"), keep: int = 10,
        ttl_s: int = 2_592_000,
    ) -> None:  # fmt: skip
        self.client = client
        self.prefix = prefix
        self.keep = keep
        self.ttl_s = ttl_s

    @classmethod
    def for_service(cls, client: redis.Redis, service_prefix: str, keep: int) -> CardHistory:
        return cls(client, prefix=key_prefix(service_prefix), keep=keep)

    @staticmethod
    def record(t: Transaction) -> tuple[str, str, str]:
        """A payment's arguments for ``RECORD_FUNCTION``: its card, when, and its member."""
        ms = str(int(t.timestamp.timestamp() * 1000))
        member = "\x1f".join((
            ms, t.transaction_id, str(t.amount), t.currency, t.merchant[:MERCHANT_MAX],
            t.merchant_category, t.channel, t.city or "", t.country or "",
            "" if t.lat is None else repr(t.lat), "" if t.lon is None else repr(t.lon),
        ))  # fmt: skip
        return t.card_id, ms, member

    def add(self, transactions: list[Transaction]) -> None:
        """Record payments outside screening (tests, a backfill): the same script."""
        args: list[str] = []
        for t in transactions:
            args += self.record(t)
        script = RECORD_FUNCTION + "return record_recent(ARGV[1], tonumber(ARGV[2]), " \
            "tonumber(ARGV[3]), ARGV[4], 5)"  # fmt: skip
        self.client.eval(script, 0, self.prefix, len(transactions), self.keep, self.ttl_s, *args)

    def recent(self, card_id: str) -> list[dict[str, Any]]:
        """The card's last payments, newest first (none kept: an empty list)."""
        try:  # the contracts' own id check: what a Transaction's card_id had to pass
            card_id = _CARD_ID.validate_python(card_id)
        except ValidationError:
            raise ValueError(
                f"a card id is 1 to {ID_MAX} letters, digits and _:@+=.- from a letter or digit"
            ) from None
        if self.keep <= 0:
            return []
        members: list[bytes | str] = self.client.zrevrange(  # type: ignore[assignment]
            f"{self.prefix}{card_id}", 0, self.keep - 1
        )
        return [parse(m) for m in members]


def parse(member: bytes | str) -> dict[str, Any]:
    """A stored payment as the case shows it (a member that does not parse is reported as
    such, never dropped)."""
    parts = as_text(member).split("\x1f")
    if len(parts) != len(FIELDS):
        return {"unreadable": f"a stored payment with {len(parts)} fields, not {len(FIELDS)}"}
    row = dict(zip(FIELDS, parts, strict=True))
    out: dict[str, Any] = {k: (v or None) for k, v in row.items()}
    del out["ms"]
    out["timestamp"] = datetime.fromtimestamp(int(row["ms"]) / 1000, tz=UTC).isoformat()
    out["amount"] = str(Decimal(row["amount"]))
    out["lat"] = float(row["lat"]) if row["lat"] else None
    out["lon"] = float(row["lon"]) if row["lon"] else None
    return out
