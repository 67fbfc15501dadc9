"""Seed data written for Vigil: the knowledge corpus, and the customers (John first)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from importlib import resources

import yaml

from ingestion.contracts import CustomerChange, KnowledgeDocument
from ingestion.simulator import Simulator

_FRONT = re.compile(r"^---\n(.*?)\n---\n(.*)$", re.DOTALL)


def seed_documents(version: int = 1) -> list[KnowledgeDocument]:
    docs = []
    folder = resources.files("ingestion.seed") / "docs"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".md"):
            continue
        match = _FRONT.match(entry.read_text(encoding="utf-8"))
        if not match:
            raise ValueError(f"{entry.name}: missing the --- front matter ---")
        meta = yaml.safe_load(match.group(1))
        docs.append(
            KnowledgeDocument(
                event_id=f"seed-{meta['doc_id']}-v{version}",
                doc_id=meta["doc_id"],
                version=version,
                kb=meta["kb"],
                title=meta["title"],
                body=match.group(2).strip(),
                tags=meta.get("tags", []),
                source=f"seed:{entry.name}",
                updated_at=datetime(2026, 11, 1, tzinfo=UTC),
            )
        )
    return docs


def seed_customers(n: int = 50, seed: int = 7) -> list[CustomerChange]:
    """The simulator's customers (the same ones its traffic uses), as profile upserts."""
    return Simulator(
        seed=seed, customers=n, start=datetime(2026, 11, 1, tzinfo=UTC)
    ).profile_upserts()
