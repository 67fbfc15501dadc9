"""The golden stream file: the committed one is what the builder makes, it reads back as
written, and a file that is not a golden stream is refused with its name."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.cases import EvalCaseError
from evals.streams import load_stream
from evals.streams.build import build_golden
from evals.streams.format import write_stream
from vigil.settings import Stream


def test_the_committed_stream_is_what_the_builder_makes(tmp_path: Path) -> None:
    built = tmp_path / "golden.jsonl"
    write_stream(build_golden(), built)
    committed = load_stream("golden")
    assert load_stream(built) == committed
    labels = {r.label.get("decision") for r in committed.of(Stream.TRANSACTIONS) if r.value}
    assert labels == {"allow", "hold", "block"}
    assert sum(r.raw is not None for r in committed.records) == 6


def test_a_file_that_is_not_a_golden_stream_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.jsonl"
    path.write_text('{"golden_stream": 99, "name": "x"}\n')
    with pytest.raises(EvalCaseError, match=r"other\.jsonl: golden_stream format 1"):
        load_stream(path)
    path.write_text('{"golden_stream": 1, "name": "x"}\n{"topic": "no.such.topic"}\n')
    with pytest.raises(EvalCaseError, match=r"other\.jsonl:2"):
        load_stream(path)
