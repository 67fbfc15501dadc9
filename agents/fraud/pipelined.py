"""One script over several parts of a batch, sent at once and read one at a time.

Screening with its behaviour features spends about as long waiting for Redis (the batch's
script) as it spends in Python on the answers. Redis runs on another core: with the batch
cut in consecutive parts (Redis runs them in order, so every state sees the payments in
the order they came, as one call would), every part's call is written to the connection
first, and each reply is read when the caller is done with the previous one, so Redis
computes part k+1 while Python works on part k.

A script Redis does not know yet (a restart flushed its cache) makes every call of the
round fail alike: the replies are read off the connection, the script is loaded, and the
parts are called again one by one. Any other failure drops the connection (replies may
still be on their way) and is raised to the caller (the batch is retried).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Sequence
from typing import Any

import hiredis
import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

Call = tuple[Sequence[Any], Sequence[Any]]  # (keys, args)

#: with the behaviour features, a batch of at least 2 x PART payments goes to Redis in
#: parts of about PART (``screen``), at most PARTS of them, none over LARGEST (the script
#: reads five keys a payment with one MGET, and Lua's unpack takes about 8,000 values)
PART = 60
PARTS = 16
LARGEST = 1000
#: ... the first of them smaller (``parts``)
FIRST = 20
GROWTH = 1.5


def parts(n: int) -> list[tuple[int, int]]:
    """The parts of a batch of ``n`` payments, as (start, end): a few small ones first,
    each ``GROWTH`` times the one before from ``FIRST``, then parts of equal size. Redis
    takes about as long on a payment's script as this process on its verdict, and the
    two overlap but for the first part's script and the last part's verdicts: small
    parts keep those short. Every call is sent before the first reply is read, so a
    first part small enough comes back while the others are being prepared, and each
    next one while the one before is judged. Measured in process on 2 cores, batches of
    500: 111 us a payment with equal parts, against 127 with 4 parts growing from 54 to
    222 (parts of 50 did no better); in ``vigil bench fraud``'s consumer, a first part
    of 20 then 30 and 45 kept 0.87, 0.84 and 0.97 of the rate of the rules in one call,
    where equal parts kept 0.80, 0.81 and 0.83 (the same runs)."""
    k = max(1, min(PARTS, n // PART), -(-n // LARGEST))
    if k == 1:
        return [(0, n)]
    cuts: list[tuple[int, int]] = []
    start, size = 0, FIRST
    while size < PART and n - start - size >= 2 * PART:
        cuts.append((start, start + size))
        start, size = start + size, int(size * GROWTH)
    m = n - start  # the rest in equal parts
    k = max(1, min(PARTS - len(cuts), m // PART), -(-m // LARGEST))
    return cuts + [(start + m * i // k, start + m * (i + 1) // k) for i in range(k)]


def replies(
    client: redis.Redis, script: Script, calls: Iterable[Call]
) -> Generator[Any, None, None]:
    """Each call's reply, in order (``answered``, one at a time)."""
    for group in answered(client, script, calls):
        yield from group


def answered(
    client: redis.Redis, script: Script, calls: Iterable[Call]
) -> Generator[list[Any], None, None]:
    """The calls' replies, in order, in groups: each group the next reply and those after
    it that have already arrived. Each call is written as soon as ``calls`` yields it (the
    caller may prepare the next meanwhile), and Redis computes the calls after the first
    while the caller works on the replies before them; when the caller is the slower one,
    the replies that came meanwhile are handed over together, so that what it does once
    per group (the model's arrays, the publishing) is done once for them all. A failed
    call's error is raised after the group of the replies before it."""
    sent: list[Call] = []
    pool = client.connection_pool
    conn = pool.get_connection()
    redo: int | None = None  # the first call Redis did not know the script for
    try:
        for keys, args in calls:
            # packed in C at once (the client's packer encodes each argument in Python:
            # 4 us a payment); str is UTF-8 either way, and a lone surrogate fails alike
            command = hiredis.pack_command(("EVALSHA", script.sha, len(keys), *keys, *args))
            conn.send_packed_command([command])  # type: ignore[no-untyped-call]
            sent.append((keys, args))
        read = 0
        while read < len(sent):
            group: list[Any] = []
            failed: Exception | None = None
            while read < len(sent):  # the next reply (waited for), then any already here
                if group and not conn.can_read(timeout=0):
                    break
                try:
                    reply = conn.read_response()
                except NoScriptError:
                    redo = read if redo is None else redo
                    read += 1
                    continue
                except Exception as exc:
                    if not group:
                        raise
                    failed = exc  # raised once the replies before it are handed over
                    break
                read += 1
                if redo is None:
                    group.append(reply)
                # else: a reply after a failed call (the script came back meanwhile): it
                # is asked again below, in order (the script's work is idempotent)
            if group:
                yield group
            if failed is not None:
                raise failed
    except BaseException:
        # replies may still be on their way: never reuse it
        conn.disconnect()  # type: ignore[no-untyped-call]
        raise
    finally:
        pool.release(conn)
    if redo is not None:
        script.sha = client.script_load(script.script)
        for keys, args in sent[redo:]:
            yield [script(keys=keys, args=args)]
