"""The golden stream file: a recorded slice of topics, one record per line.

A stream file (``evals/data/streams/<name>.jsonl``) has a header line (the format
version, the name, a description and the stream-level expectations), then one record per
line as it stood on its topic: the stream, the key, and the value (a contract event, or
``raw`` text for a record that was malformed), with an optional ``label``: the decision
the fraud policy expects of a transaction, or why a malformed record must be
dead-lettered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from evals.cases import EvalCaseError
from vigil.settings import Stream

FORMAT = 1


@dataclass
class StreamRecord:
    stream: Stream
    key: str | None
    value: dict[str, Any] | None = None
    raw: str | None = None
    label: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> str:
        out: dict[str, Any] = {"topic": self.stream.value, "key": self.key}
        if self.raw is not None:
            out["raw"] = self.raw
        else:
            out["value"] = self.value
        if self.label:
            out["label"] = self.label
        return json.dumps(out, sort_keys=True)

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw.encode()
        return json.dumps(self.value).encode()


@dataclass
class GoldenStream:
    name: str
    records: list[StreamRecord]
    #: stream-level expectations: {"alerts": {signal id: [recipients]}, "work_orders": [...]}
    expect: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def of(self, stream: Stream) -> list[StreamRecord]:
        return [r for r in self.records if r.stream == stream]


def _streams_dir() -> Path:
    return Path(str(resources.files("evals") / "data" / "streams"))


def write_stream(stream: GoldenStream, path: Path) -> None:
    header = {
        "golden_stream": FORMAT,
        "name": stream.name,
        "description": stream.description,
        "expect": stream.expect,
    }
    lines = [json.dumps(header, sort_keys=True), *(r.as_json() for r in stream.records)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_stream(name_or_path: str | Path) -> GoldenStream:
    path = Path(name_or_path)
    if not path.suffix:
        path = _streams_dir() / f"{name_or_path}.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        header = json.loads(lines[0])
    except (OSError, IndexError, json.JSONDecodeError) as exc:
        raise EvalCaseError(f"{path.name}: not a golden stream: {exc}") from exc
    if header.get("golden_stream") != FORMAT:
        raise EvalCaseError(f"{path.name}: golden_stream format {FORMAT} expected in the header")
    records = []
    for n, line in enumerate(lines[1:], start=2):
        try:
            data = json.loads(line)
            records.append(
                StreamRecord(
                    Stream(data["topic"]),
                    data.get("key"),
                    data.get("value"),
                    data.get("raw"),
                    data.get("label") or {},
                )
            )
        except (KeyError, ValueError) as exc:
            raise EvalCaseError(f"{path.name}:{n}: {exc}") from exc
    return GoldenStream(
        header["name"], records, header.get("expect") or {}, header.get("description", "")
    )
