"""One script over several parts of a batch, sent at once and read one at a time.

Screening with its behaviour features spends about as long waiting for Redis (the batch's
script) as it spends in Python on the answers. Redis runs on another core: with the batch
cut in parts whose keys do not overlap (by customer: a card belongs to one), every part's
call is written to the connection first, and each reply is read when the caller is done
with the previous one, so Redis computes part k+1 while Python works on part k.

A script Redis does not know yet (a restart flushed its cache) makes every call of the
round fail alike: the replies are read off the connection, the script is loaded, and the
parts are called again one by one. Any other failure drops the connection (replies may
still be on their way) and is raised to the caller (the batch is retried).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Sequence
from typing import Any

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

Call = tuple[Sequence[Any], Sequence[Any]]  # (keys, args)

#: with the behaviour features, a batch of at least 2 x PART payments goes to Redis in up
#: to PARTS parts (``screen``), each GROWTH times the one before; more when a part would
#: be over LARGEST (the script reads five keys a payment with one MGET, and Lua's unpack
#: takes about 8,000 values)
PART = 100
PARTS = 4
GROWTH = 1.6
LARGEST = 1000


def parts(n: int) -> list[tuple[int, int]]:
    """The parts of a batch of ``n`` payments, as (start, end). They grow: while this
    process judges a part, Redis computes the next (about 0.6 of the time a payment takes
    here, with terminals), so the first is small, the only wait that nothing covers."""
    k = max(1, min(PARTS, n // PART))
    weights = [GROWTH**i for i in range(k)]
    if n * weights[-1] / sum(weights) > LARGEST:  # too large to grow: equal parts
        k = -(-n // LARGEST)
        weights = [1.0] * k
    ends = [round(n * sum(weights[: i + 1]) / sum(weights)) for i in range(k)]
    return [(0 if i == 0 else ends[i - 1], end) for i, end in enumerate(ends)]


def replies(
    client: redis.Redis, script: Script, calls: Iterable[Call]
) -> Generator[Any, None, None]:
    """Each call's reply, in order. Each call is written as soon as ``calls`` yields it
    (the caller may prepare the next meanwhile), and Redis computes the calls after the
    first while the caller works on the replies before them."""
    sent: list[Call] = []
    pool = client.connection_pool
    conn = pool.get_connection()
    redo: int | None = None  # the first call Redis did not know the script for
    try:
        for keys, args in calls:
            conn.send_command(  # type: ignore[no-untyped-call]
                "EVALSHA", script.sha, len(keys), *keys, *args
            )
            sent.append((keys, args))
        for i in range(len(sent)):
            try:
                reply = conn.read_response()
            except NoScriptError:
                redo = i if redo is None else redo
                continue
            if redo is None:
                yield reply
            # else: a reply after a failed call (the script came back meanwhile): it is
            # asked again below, in order (the script's work is idempotent per payment)
    except BaseException:
        # replies may still be on their way: never reuse it
        conn.disconnect()  # type: ignore[no-untyped-call]
        raise
    finally:
        pool.release(conn)
    if redo is not None:
        script.sha = client.script_load(script.script)
        for keys, args in sent[redo:]:
            yield script(keys=keys, args=args)
