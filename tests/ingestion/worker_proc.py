"""A consumer-group member in its own process, for kill and restart tests.

Its handler records each event id in a Redis list (the durable outcome) and then,
when told to, SIGKILLs its own process: processed, but never committed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from collections.abc import Sequence

import redis

from ingestion.contracts import Transaction
from ingestion.runner import ConsumerRunner, Received
from vigil.settings import Settings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--redis", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--count", type=int, default=None)
    ap.add_argument("--slow", type=float, default=0.0, help="seconds per batch")
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--kill-after-handling", action="store_true")
    args = ap.parse_args()

    r = redis.Redis.from_url(args.redis)
    settings = Settings(
        _env_file=None,
        kafka_bootstrap=args.bootstrap,
        kafka_session_timeout_ms=6000,
        kafka_heartbeat_interval_ms=500,
    )

    def handler(batch: Sequence[Received[Transaction]]) -> None:
        time.sleep(args.slow)
        r.rpush(args.key, *[rec.event.transaction_id for rec in batch])
        if args.kill_after_handling:
            os.kill(os.getpid(), signal.SIGKILL)

    runner = ConsumerRunner(
        settings,
        topic=args.topic,
        model=Transaction,
        handler=handler,
        group=args.group,
        batch_size=args.batch_size,
    )
    print("ready", flush=True)
    try:
        with runner.stop_on_signals():
            m = runner.run(count=args.count, timeout=90)
    finally:
        runner.close()
    print(json.dumps({"processed": m.processed, "commits": m.commits}), flush=True)


if __name__ == "__main__":
    main()
