"""The saver's logic, free of I/O: generators that yield Redis command batches.

Each operation is a generator that yields ``Batch`` (commands to run, atomically or
not) and receives the list of replies, and may yield ``Out`` items (list results).
The sync and async savers drive the very same generators, so both speak one storage
design (see ``layout.py``) and cannot drift apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from graphs.checkpointer.layout import (
    SEP,
    Layout,
    blob_ref,
    dec_typed,
    enc_typed,
    pack,
    ref_channel,
    unpack,
)
from graphs.checkpointer.lua import GET_TUPLE_SHA, PUT_SHA, PUT_WRITES_SHA
from ingestion.redis_keys import as_text

Cmd = tuple[Any, ...]
PAGE = 100


@dataclass(frozen=True, slots=True)
class Batch:
    cmds: list[Cmd]
    atomic: bool = False


@dataclass(frozen=True, slots=True)
class Out:
    item: CheckpointTuple


Plan = Generator[Batch | Out, list[Any], Any]


@dataclass
class Plans:
    """Builds the command batches for every saver operation."""

    layout: Layout
    serde: SerializerProtocol
    ttl_ms: int = 0

    def _ttl(self, keys: Sequence[str]) -> list[Cmd]:
        if not self.ttl_ms:
            return []
        return [("PEXPIRE", k, self.ttl_ms) for k in keys]

    # -- writes -----------------------------------------------------------------------------

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Plan:
        conf = config["configurable"]
        tid: str = conf["thread_id"]
        ns: str = conf.get("checkpoint_ns", "")
        parent: str = conf.get("checkpoint_id") or ""
        cid = checkpoint["id"]
        lay = self.layout
        body = dict(checkpoint)
        values: dict[str, Any] = body.pop("channel_values", {})  # type: ignore[assignment]
        meta = get_checkpoint_metadata(config, metadata)
        refs = [blob_ref(ch, v) for ch, v in checkpoint["channel_versions"].items()]
        blobs: list[Any] = []
        for ch, ver in new_versions.items():
            # a channel with a new version but no value (emptied) simply has no blob
            if ch in values:
                blobs += [blob_ref(ch, ver), enc_typed(self.serde.dumps_typed(values[ch]))]
        run_id = str(meta.get("run_id") or "")
        argv = (
            lay.thread(tid), ns, cid, parent, run_id, self.ttl_ms,
            enc_typed(self.serde.dumps_typed(body)),
            enc_typed(self.serde.dumps_typed(meta)),
            pack(refs),
            lay.threads, tid,
            lay.run(run_id) if run_id else "", lay.run_member(tid, ns, cid),
        )  # fmt: skip
        # one script: atomic, and one command to send and parse
        yield Batch([("EVALSHA", PUT_SHA, 0, *argv, *blobs)])
        return {"configurable": {"thread_id": tid, "checkpoint_ns": ns, "checkpoint_id": cid}}

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> Plan:
        conf = config["configurable"]
        tid, ns, cid = conf["thread_id"], conf.get("checkpoint_ns", ""), conf["checkpoint_id"]
        wk = self.layout.writes(tid, ns, cid)
        argv: list[Any] = [wk, self.ttl_ms]
        for idx, (channel, value) in enumerate(writes):
            slot = WRITES_IDX_MAP.get(channel, idx)
            typed = enc_typed(self.serde.dumps_typed(value))
            record = pack([task_id, channel, typed, task_path, slot])
            # a task's regular writes are stored once (a retry must not change them);
            # the special channels (error, interrupt, resume) take the latest value
            argv += ["1" if slot < 0 else "0", f"{task_id}{SEP}{slot}", record]
        if writes:
            yield Batch([("EVALSHA", PUT_WRITES_SHA, 0, *argv)])

    # -- reads ---------------------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> Plan:
        conf = config["configurable"]
        tid: str = conf["thread_id"]
        ns: str = conf.get("checkpoint_ns", "")
        cid = get_checkpoint_id(config) or ""
        argv = (self.layout.thread(tid), ns, cid, self.ttl_ms)
        [reply] = yield Batch([("EVALSHA", GET_TUPLE_SHA, 0, *argv)])
        if not reply:
            return None
        found, c, m, parent, writes_flat, refs, blobs = reply
        return self._tuple(tid, ns, as_text(found), c, m, as_text(parent), writes_flat, refs, blobs)

    def list_tuples(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Plan:
        lay = self.layout
        conf = config["configurable"] if config else {}
        if conf.get("thread_id") is not None:
            tids = [str(conf["thread_id"])]
        else:
            [members] = yield Batch([("SMEMBERS", lay.threads)])
            tids = sorted(as_text(m) for m in members)
        want_ns: str | None = conf.get("checkpoint_ns")
        want_id = get_checkpoint_id(config) if config else None
        before_id = get_checkpoint_id(before) if before else None
        remaining = limit
        for tid in tids:
            if want_ns is not None:
                namespaces = [want_ns]
            else:
                [members] = yield Batch([("SMEMBERS", lay.namespaces(tid))])
                namespaces = sorted(as_text(m) for m in members)
                if not namespaces and not conf.get("thread_id"):
                    # the thread expired (TTL) or was deleted: forget it in the index too
                    yield Batch([("SREM", lay.threads, tid)])
            for ns in namespaces:
                if want_id:
                    ids = [want_id]
                else:
                    top = f"({before_id}" if before_id else "+"
                    [raw] = yield Batch([("ZREVRANGEBYLEX", lay.ids(tid, ns), top, "-")])
                    ids = [as_text(i) for i in raw]
                    if before_id:  # ZREVRANGEBYLEX bounds are exclusive already; be explicit
                        ids = [i for i in ids if i < before_id]
                for start in range(0, len(ids), PAGE):
                    if remaining is not None and remaining <= 0:
                        return None
                    page = ids[start : start + PAGE]
                    replies = yield Batch(
                        [("HMGET", lay.checkpoint(tid, ns, i), "c", "m", "p", "b") for i in page]
                        + [("HGETALL", lay.writes(tid, ns, i)) for i in page]
                    )
                    rows = []
                    for i, (c, m, p, b), w in zip(
                        page, replies[: len(page)], replies[len(page) :], strict=True
                    ):
                        if c is None:
                            continue  # expired (TTL) between the index read and now
                        metadata = self.serde.loads_typed(dec_typed(m))
                        if filter and not all(metadata.get(k) == v for k, v in filter.items()):
                            continue
                        if remaining is not None:
                            if remaining <= 0:
                                break
                            remaining -= 1
                        rows.append((i, c, m, p, b, w))
                    if not rows:
                        continue
                    refs_per_row = [[as_text(r) for r in unpack(row[4])] for row in rows]
                    keys = [lay.blob(tid, ns, r) for refs in refs_per_row for r in refs]
                    blobs: list[Any] = []
                    if keys:
                        [blobs] = yield Batch([("MGET", *keys)])
                    pos = 0
                    for (i, c, m, p, _b, w), refs in zip(rows, refs_per_row, strict=True):
                        mine = blobs[pos : pos + len(refs)]
                        pos += len(refs)
                        yield Out(self._tuple(tid, ns, i, c, m, as_text(p or b""), w, refs, mine))
        return None

    def _tuple(
        self,
        tid: str,
        ns: str,
        cid: str,
        c: bytes,
        m: bytes,
        parent: str,
        writes: Any,
        refs: Sequence[Any],
        blobs: Sequence[bytes | None],
    ) -> CheckpointTuple:
        checkpoint: Checkpoint = self.serde.loads_typed(dec_typed(c))
        values: dict[str, Any] = {}
        for ref, blob in zip(refs, blobs, strict=True):
            if blob is None:
                continue
            kind, data = dec_typed(blob)
            if kind != "empty":
                values[ref_channel(as_text(ref))] = self.serde.loads_typed((kind, data))
        checkpoint["channel_values"] = values
        # HGETALL comes back as a dict from redis-py, flat (field, value, ...) through Lua
        records = list(writes.values()) if isinstance(writes, dict) else list(writes[1::2])
        decoded = [unpack(r) for r in records]
        decoded.sort(key=lambda w: writes_sort_key(w[3], w[0], w[4]))
        pending = [(w[0], w[1], self.serde.loads_typed(dec_typed(w[2]))) for w in decoded]
        cfg: RunnableConfig = {
            "configurable": {"thread_id": tid, "checkpoint_ns": ns, "checkpoint_id": cid}
        }
        parent_cfg: RunnableConfig | None = (
            {"configurable": {"thread_id": tid, "checkpoint_ns": ns, "checkpoint_id": parent}}
            if parent
            else None
        )
        return CheckpointTuple(
            config=cfg,
            checkpoint=checkpoint,
            metadata=self.serde.loads_typed(dec_typed(m)),
            parent_config=parent_cfg,
            pending_writes=pending,
        )

    # -- deletion, copy, prune -------------------------------------------------------------------

    def _thread_inventory(self, tid: str) -> Generator[Batch, list[Any], dict[str, list[str]]]:
        """Namespace -> checkpoint ids of a thread."""
        [members] = yield Batch([("SMEMBERS", self.layout.namespaces(tid))])
        namespaces = sorted(as_text(m) for m in members)
        if not namespaces:
            return {}
        replies = yield Batch([("ZRANGE", self.layout.ids(tid, ns), 0, -1) for ns in namespaces])
        return {ns: [as_text(i) for i in ids] for ns, ids in zip(namespaces, replies, strict=True)}

    def _refs_of(
        self, tid: str, ns: str, cids: Sequence[str]
    ) -> Generator[Batch, list[Any], list[tuple[str, set[str]]]]:
        """(run id, blob refs) of each checkpoint, in order."""
        if not cids:
            return []
        rows = yield Batch([("HMGET", self.layout.checkpoint(tid, ns, c), "r", "b") for c in cids])
        return [
            (as_text(r or b""), {as_text(x) for x in unpack(b)} if b else set()) for r, b in rows
        ]

    def _drop(self, tid: str, ns: str, drop: Sequence[str]) -> Plan:
        """Delete some checkpoints of a namespace, and the values no remaining one reads."""
        lay = self.layout
        drop_set = set(drop)
        [ids] = yield Batch([("ZRANGE", lay.ids(tid, ns), 0, -1)])
        keep = [i for i in (as_text(x) for x in ids) if i not in drop_set]
        dropped = yield from self._refs_of(tid, ns, list(drop))
        kept = yield from self._refs_of(tid, ns, keep)
        live = set().union(*(refs for _, refs in kept))
        dead = set().union(*(refs for _, refs in dropped)) - live
        keys = [k for c in drop for k in (lay.checkpoint(tid, ns, c), lay.writes(tid, ns, c))]
        keys += [lay.blob(tid, ns, r) for r in sorted(dead)]
        cmds: list[Cmd] = [("DEL", *keys), ("ZREM", lay.ids(tid, ns), *drop)]
        for cid, (run, _refs) in zip(drop, dropped, strict=True):
            if run:
                cmds.append(("SREM", lay.run(run), lay.run_member(tid, ns, cid)))
        if not keep:
            cmds.append(("SREM", lay.namespaces(tid), ns))
        yield Batch(cmds, atomic=True)

    def delete_thread(self, thread_id: str) -> Plan:
        inv = yield from self._thread_inventory(thread_id)
        for ns, ids in inv.items():
            if ids:
                yield from self._drop(thread_id, ns, ids)
        lay = self.layout
        yield Batch(
            [
                ("DEL", lay.namespaces(thread_id), *[lay.ids(thread_id, ns) for ns in inv]),
                ("SREM", lay.threads, thread_id),
            ],
            atomic=True,
        )

    def delete_for_runs(self, run_ids: Sequence[str]) -> Plan:
        lay = self.layout
        if not run_ids:
            return None
        member_sets = yield Batch([("SMEMBERS", lay.run(r)) for r in run_ids])
        by_ns: dict[tuple[str, str], list[str]] = defaultdict(list)
        for members in member_sets:
            for m in members:
                tid, ns, cid = lay.split_run_member(as_text(m))
                by_ns[(tid, ns)].append(cid)
        for (tid, ns), cids in by_ns.items():
            yield from self._drop(tid, ns, cids)
        yield Batch([("DEL", *[lay.run(r) for r in run_ids])])
        return None

    def prune(self, thread_ids: Sequence[str], strategy: str) -> Plan:
        if strategy not in ("keep_latest", "delete"):
            raise ValueError(f"unknown prune strategy {strategy!r}: use keep_latest or delete")
        for tid in thread_ids:
            if strategy == "delete":
                yield from self.delete_thread(tid)
                continue
            inv = yield from self._thread_inventory(tid)
            for ns, ids in inv.items():
                old = sorted(ids)[:-1]
                if old:
                    yield from self._drop(tid, ns, old)
        return None

    def copy_thread(self, source: str, target: str) -> Plan:
        lay = self.layout
        inv = yield from self._thread_inventory(source)
        if not inv:
            return None
        cmds: list[Cmd] = []
        for ns, ids in inv.items():
            replies = yield Batch(
                [("HGETALL", lay.checkpoint(source, ns, c)) for c in ids]
                + [("HGETALL", lay.writes(source, ns, c)) for c in ids]
            )
            cps, writes = replies[: len(ids)], replies[len(ids) :]
            refs = sorted({as_text(r) for cp in cps if cp for r in unpack(cp[b"b"])})
            values = []
            if refs:
                [values] = yield Batch([("MGET", *[lay.blob(source, ns, r) for r in refs])])
            for ref, value in zip(refs, values, strict=True):
                if value is not None:
                    cmds.append(("SET", lay.blob(target, ns, ref), value))
            for cid, cp, w in zip(ids, cps, writes, strict=True):
                if not cp:
                    continue
                cmds.append(("HSET", lay.checkpoint(target, ns, cid), *_flat(cp)))
                if w:
                    cmds.append(("HSET", lay.writes(target, ns, cid), *_flat(w)))
                cmds.append(("ZADD", lay.ids(target, ns), 0, cid))
                run = as_text(cp.get(b"r") or b"")
                if run:
                    cmds.append(("SADD", lay.run(run), lay.run_member(target, ns, cid)))
            cmds.append(("SADD", lay.namespaces(target), ns))
        cmds.append(("SADD", lay.threads, target))
        written = [c[1] for c in cmds if c[0] in ("SET", "HSET", "ZADD", "SADD")]
        cmds += self._ttl([k for k in dict.fromkeys(written) if k != lay.threads])
        yield Batch(cmds, atomic=True)
        return None


def _flat(mapping: dict[Any, Any]) -> list[Any]:
    return [x for kv in mapping.items() for x in kv]
