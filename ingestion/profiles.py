"""The customer 360 in Redis, kept fresh from ``customers.changes``.

Changes can arrive out of order and twice. Each field remembers the version that last
wrote it, so a change only overwrites fields older than itself: a late full upsert fills
in around a newer patch instead of clobbering it, a re-delivered change is a no-op, and
a delete leaves a tombstone (with its version) so that an older upsert arriving after it
cannot bring the customer back. The same script keeps the home-city index (who lives
where, for regional alerts). All of it in one atomic script per change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import redis
from pydantic import AwareDatetime

from ingestion.contracts import CustomerChange, CustomerProfilePatch
from ingestion.redis_keys import as_text
from ingestion.runner import Received

#: in a profile hash, field ``<name>`` keeps its JSON value under ``f:<name>`` and the
#: version that wrote it under ``fv:<name>`` (the apply script below spells them out too)
VALUE = "f:"
#: raw field values whose parse ``ProfileFields`` keeps (past this it starts again)
PARSED_KEPT = 8192
_UNSEEN = object()

_APPLY = r"""
local k, v, op, at = KEYS[1], tonumber(ARGV[1]), ARGV[2], ARGV[3]
local idx, id = ARGV[5], ARGV[6]
local function city_of()
  local raw = redis.call("HGET", k, "f:home_city")
  if raw and string.sub(raw, 1, 1) == '"' then return string.sub(raw, 2, -2) end
  return raw
end
local before = city_of()
local deleted = tonumber(redis.call("HGET", k, "_d") or "0")
if v <= deleted then return 0 end
if op == "delete" then
  redis.call("DEL", k)
  redis.call("HSET", k, "_d", v, "_v", v, "_u", at)
  redis.call("EXPIRE", k, ARGV[4])
  if before then redis.call("SREM", idx .. before, id) end
  return 1
end
local incoming = {}
for i = 7, #ARGV, 2 do incoming[ARGV[i]] = true end
if op == "upsert" then
  -- an upsert is the whole profile as of v: drop older fields it does not carry
  local all = redis.call("HGETALL", k)
  for i = 1, #all, 2 do
    local name = string.match(all[i], "^fv:(.*)$")
    if name and not incoming[name] and tonumber(all[i + 1]) < v then
      redis.call("HDEL", k, "f:" .. name, "fv:" .. name)
    end
  end
end
local changed = 0
for i = 7, #ARGV, 2 do
  local fv = tonumber(redis.call("HGET", k, "fv:" .. ARGV[i]) or "0")
  if v > fv then
    redis.call("HSET", k, "f:" .. ARGV[i], ARGV[i + 1], "fv:" .. ARGV[i], v)
    changed = 1
  end
end
local cur = tonumber(redis.call("HGET", k, "_v") or "0")
if v > cur then redis.call("HSET", k, "_v", v, "_u", at) end
redis.call("PERSIST", k)
local after = city_of()
if before ~= after then
  if before then redis.call("SREM", idx .. before, id) end
  if after then redis.call("SADD", idx .. after, id) end
end
return changed
"""


class CustomerProfile(CustomerProfilePatch):
    """A customer as the tools see them, with the version it was last changed at."""

    customer_id: str
    version: int
    updated_at: AwareDatetime


class ProfileStore(Protocol):
    def apply(self, changes: Sequence[CustomerChange]) -> list[bool]: ...

    def get(self, customer_id: str) -> CustomerProfile | None: ...

    def customers_in(self, city: str) -> list[str]: ...


class RedisProfileStore:
    """Profiles as Redis hashes under ``<prefix>:profile:<customer id>``."""

    def __init__(
        self, client: redis.Redis, *, prefix: str = "vigil", tombstone_ttl_s: int = 604_800
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.tombstone_ttl_s = tombstone_ttl_s
        self._apply = client.register_script(_APPLY)

    def key(self, customer_id: str) -> str:
        return f"{self.prefix}:profile:{customer_id}"

    @property
    def city_index(self) -> str:
        """Prefix of the sets of customer ids by home city, kept by the apply script."""
        return f"{self.prefix}:idx:home_city:"

    def customers_in(self, city: str) -> list[str]:
        """Ids of the customers whose home city this is (sorted)."""
        return sorted(as_text(m) for m in self.client.smembers(self.city_index + city))

    def apply(self, changes: Sequence[CustomerChange]) -> list[bool]:
        """Apply changes in one pipeline; True where a change altered the profile."""
        pipe = self.client.pipeline(transaction=False)
        for ch in changes:
            fields: list[Any] = []
            if ch.profile is not None:
                for name, value in ch.profile.model_dump(mode="json", exclude_none=True).items():
                    fields += [name, json.dumps(value)]
            self._apply(
                keys=[self.key(ch.customer_id)],
                args=[
                    ch.version,
                    ch.op,
                    ch.changed_at.isoformat(),
                    self.tombstone_ttl_s,
                    self.city_index,
                    ch.customer_id,
                    *fields,
                ],
                client=pipe,
            )
        return [bool(r) for r in pipe.execute()]

    def get(self, customer_id: str) -> CustomerProfile | None:
        raw = {
            as_text(k): as_text(v) for k, v in self.client.hgetall(self.key(customer_id)).items()
        }
        values = {k[len(VALUE) :]: json.loads(v) for k, v in raw.items() if k.startswith(VALUE)}
        if not values:
            return None  # never seen, or deleted
        return CustomerProfile(
            customer_id=customer_id,
            version=int(raw["_v"]),
            updated_at=datetime.fromisoformat(raw["_u"]),
            **values,
        )

    def fields(self, *names: str) -> ProfileFields:
        """A batch read of these fields of many customers (see :class:`ProfileFields`)."""
        return ProfileFields(self, names)


class ProfileFields:
    """Some fields of many profiles in one round trip.

    :meth:`read` runs it as one script call. A component whose own batch script must read
    the profiles in the same round trip (screening: one script per batch) embeds
    :attr:`lua`, which defines ``read_profiles(first, n, out)``: for the ``n`` profile keys
    from ``KEYS[first]`` on (:meth:`keys`), it appends each field's raw value (``""`` when
    missing) to ``out``; :meth:`decode` turns those replies back into values. The hash
    layout stays here.
    """

    def __init__(self, store: RedisProfileStore, names: Sequence[str]) -> None:
        unknown = [n for n in names if n not in CustomerProfilePatch.model_fields]
        if not names or unknown:
            raise ValueError(f"name one or more customer profile fields; unknown: {unknown}")
        self.store = store
        self.names = tuple(names)
        self._memo: dict[bytes | str, Any] = {}
        hmget = ", ".join(f'"{VALUE}{n}"' for n in self.names)
        self.lua = (
            "local function read_profiles(first, n, out)\n"
            "  for k = first, first + n - 1 do\n"
            f'    local f = redis.call("HMGET", KEYS[k], {hmget})\n'
            f'    for i = 1, {len(self.names)} do out[#out + 1] = f[i] or "" end\n'
            "  end\n"
            "end\n"
        )
        self._read = store.client.register_script(
            self.lua + "local out = {}\nread_profiles(1, #KEYS, out)\nreturn out\n"
        )

    def keys(self, customer_ids: Iterable[str]) -> list[str]:
        return [self.store.key(c) for c in customer_ids]

    def decode(
        self, replies: Sequence[Any], customer_ids: Sequence[str], *, at: int = 0
    ) -> dict[str, dict[str, Any]]:
        """Each customer's fields (None when missing), from ``replies[at:]`` in key order."""
        names, width, parsed = self.names, len(self.names), self._parsed
        out: dict[str, dict[str, Any]] = {}
        for j, c in enumerate(customer_ids):
            row = replies[at + j * width : at + (j + 1) * width]
            out[c] = {n: parsed(raw) if raw else None for n, raw in zip(names, row, strict=True)}
        return out

    def _parsed(self, raw: bytes | str) -> Any:
        """A field's JSON, parsed once while it stays among the recent values (the same
        amounts and flags come back batch after batch: 3.4 us an event to parse again).
        A list is kept as a tuple and handed out as a new list, so no caller can change
        what the next one gets; an object is not kept."""
        got = self._memo.get(raw, _UNSEEN)
        if got is _UNSEEN:
            got = json.loads(raw)
            if isinstance(got, dict):
                return got
            if isinstance(got, list):
                got = tuple(got)
            if len(self._memo) >= PARSED_KEPT:
                self._memo.clear()
            self._memo[raw] = got
        return list(got) if isinstance(got, tuple) else got

    def read(self, customer_ids: Iterable[str]) -> Mapping[str, dict[str, Any]]:
        """The fields of these customers (each once), in one round trip."""
        ids = list(dict.fromkeys(customer_ids))
        if not ids:
            return {}
        return self.decode(self._read(keys=self.keys(ids)), ids)


class ProfileIngestor:
    """Runner handler for ``customers.changes``: applied (durably) before the commit."""

    def __init__(self, store: ProfileStore) -> None:
        self.store = store

    def __call__(self, batch: Sequence[Received[CustomerChange]]) -> None:
        self.store.apply([r.event for r in batch])
