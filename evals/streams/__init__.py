"""Golden streams: a recorded slice of topics replayed through the real agents, scored.

By job: the file format (``format``), the committed stream built from the simulator
(``build``), recording live topics (``record``), the replay through Kafka and the agents
(``replay``) and its scoring (``score``).
"""

from evals.streams.format import GoldenStream, StreamRecord, load_stream
from evals.streams.record import record_topics
from evals.streams.replay import replay_stream
from evals.streams.score import StreamResult, summarize_stream

__all__ = [
    "GoldenStream",
    "StreamRecord",
    "StreamResult",
    "load_stream",
    "record_topics",
    "replay_stream",
    "summarize_stream",
]
