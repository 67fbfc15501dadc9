"""The fraud agent in its own process, with a scripted model, for crash tests.

``python -m tests.agents.fraud_proc SECONDS``; settings from the VIGIL_* environment,
VIGIL_FAILPOINT to die at a point. The agent stops once it has worked off everything
there was (see ``settled``), or after SECONDS at the latest. Prints whether it settled and
the worker's metrics as JSON when it stops.
"""

from __future__ import annotations

import json
import sys
import time

from agents.service import AgentService
from graphs.llm import ModelEntry, ModelGateway
from graphs.llm.fake import ScriptedChatModel
from ingestion.producer import EventProducer
from vigil.settings import Settings
from vigil.wiring.workers import agent as build_agent

BLOCK = json.dumps({"risk": 0.98, "action": "block", "rationale": "impossible travel"})


def settled(agent: AgentService) -> bool:
    """Every consumer of the agent holds all the partitions of its topic and has processed
    and committed up to their ends. (A runner handles and commits each polled batch before
    it measures the lag again, so a lag of zero on every partition means nothing polled
    is still in hand.)"""
    s = agent.worker.settings
    for runner in agent.runners:
        lag = dict(runner.metrics.lag)
        if len(lag) < s.partitions(runner.topic) or any(lag.values()):
            return False
    return True


def main() -> None:
    settings = Settings(_env_file=None)
    model = ScriptedChatModel(script=[BLOCK] * 10)
    gateway = ModelGateway([ModelEntry("scripted", model, structured="json")])
    deadline = time.monotonic() + float(sys.argv[1])
    with EventProducer(settings) as producer:
        agent = build_agent("fraud", settings, producer, gateway=gateway).start()
        while time.monotonic() < deadline and not settled(agent):
            time.sleep(0.1)
        done = settled(agent)
        agent.stop()
    m = agent.worker.metrics
    print(json.dumps({"settled": done, "screened": m.screened, "escalated": m.escalated,
                      "blocked": m.blocked}))  # fmt: skip


if __name__ == "__main__":
    main()
