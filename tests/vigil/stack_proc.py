"""Starts the embedded stack, prints the children's PIDs as JSON, then waits to be killed."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from vigil.runtime.stack import Stack
from vigil.settings import Settings


def main() -> None:
    settings = Settings(_env_file=None, data_dir=Path(sys.argv[1]))
    stack = Stack(settings, create_topics=False)
    eff = stack.start()
    pids = {name: srv.pid for name, srv in stack.servers.items()}
    print(json.dumps({"pids": pids, "kafka": eff.kafka_bootstrap, "redis": eff.redis_url}))
    sys.stdout.flush()
    time.sleep(600)


if __name__ == "__main__":
    main()
