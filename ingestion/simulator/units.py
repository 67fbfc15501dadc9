"""The simulator's small pieces: run ids (in every generated id), money, distances."""

from __future__ import annotations

import math
import re
import secrets
from decimal import ROUND_HALF_UP, Decimal

_CENT = Decimal("0.01")
_NO_MINOR_UNITS = {"JPY"}
_FLIGHT_KMH = 800.0
_RUN_TAG = re.compile(r"^[a-z0-9]{1,16}$")


def new_run_id() -> str:
    """A tag unique to one run of the simulator: 8 random lowercase hex digits."""
    return secrets.token_hex(4)


def check_run_id(run: str) -> str:
    """A run id goes into event ids, Redis keys and lake file names: keep it plain."""
    if not _RUN_TAG.match(run):
        raise ValueError(f"a run id is 1-16 lowercase letters and digits, not {run!r}")
    return run


def _money(value: float, currency: str) -> Decimal:
    q = Decimal(1) if currency in _NO_MINOR_UNITS else _CENT
    return max(q, Decimal(str(value)).quantize(q, rounding=ROUND_HALF_UP))


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))
