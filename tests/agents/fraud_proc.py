"""The fraud agent in its own process, with a scripted model, for crash tests.

``python -m tests.agents.fraud_proc SECONDS``; settings from the VIGIL_* environment,
VIGIL_FAILPOINT to die at a point. Prints the worker's metrics as JSON when it stops.
"""

from __future__ import annotations

import json
import sys
import time

from graphs.llm import ModelEntry, ModelGateway
from graphs.llm.fake import ScriptedChatModel
from ingestion.producer import EventProducer
from vigil.settings import Settings
from vigil.wiring.workers import agent as build_agent

BLOCK = json.dumps({"risk": 0.98, "action": "block", "rationale": "impossible travel"})


def main() -> None:
    settings = Settings(_env_file=None)
    model = ScriptedChatModel(script=[BLOCK] * 10)
    gateway = ModelGateway([ModelEntry("scripted", model, structured="json")])
    with EventProducer(settings) as producer:
        agent = build_agent("fraud", settings, producer, gateway=gateway).start()
        time.sleep(float(sys.argv[1]))
        agent.stop()
    m = agent.worker.metrics
    print(json.dumps({"screened": m.screened, "escalated": m.escalated, "blocked": m.blocked}))


if __name__ == "__main__":
    main()
