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
from graphs.checkpointer.lua import GET_TUPLE_SHA

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


def _s(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


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
        cmds: list[Cmd] = []
        new_refs = []
        for ch, ver in new_versions.items():
            ref = blob_ref(ch, ver)
            new_refs.append(ref)
            typed = self.serde.dumps_typed(values[ch]) if ch in values else ("empty", b"")
            cmds.append(("SET", lay.blob(tid, ns, ref), enc_typed(typed)))
        if new_refs:
            cmds.append(("SADD", lay.blobset(tid, ns), *new_refs))
        run_id = str(meta.get("run_id") or "")
        cpk = lay.checkpoint(tid, ns, cid)
        fields = {
            "c": enc_typed(self.serde.dumps_typed(body)),
            "m": enc_typed(self.serde.dumps_typed(meta)),
            "p": parent,
            "r": run_id,
            "b": pack(refs),
        }
        cmds += [
            ("HSET", cpk, *_flat(fields)),
            ("ZADD", lay.ids(tid, ns), 0, cid),
            ("SADD", lay.namespaces(tid), ns),
            ("SADD", lay.threads, tid),
        ]
        if run_id:
            cmds.append(("SADD", lay.run(run_id), lay.run_member(tid, ns, cid)))
        # refresh everything the new latest checkpoint reads, old blobs included
        cmds += self._ttl(
            [cpk, lay.ids(tid, ns), lay.namespaces(tid), lay.blobset(tid, ns)]
            + [lay.blob(tid, ns, r) for r in refs]
            + ([lay.run(run_id)] if run_id else [])
        )
        yield Batch(cmds, atomic=True)
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
        cmds: list[Cmd] = []
        for idx, (channel, value) in enumerate(writes):
            slot = WRITES_IDX_MAP.get(channel, idx)
            typed = enc_typed(self.serde.dumps_typed(value))
            record = pack([task_id, channel, typed, task_path, slot])
            # a task's regular writes are stored once (a retry must not change them);
            # the special channels (error, interrupt, resume) take the latest value
            verb = "HSET" if slot < 0 else "HSETNX"
            cmds.append((verb, wk, f"{task_id}{SEP}{slot}", record))
        cmds += self._ttl([wk])
        if cmds:
            yield Batch(cmds, atomic=True)

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
        return self._tuple(tid, ns, _s(found), c, m, _s(parent), writes_flat, refs, blobs)

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
            tids = sorted(_s(m) for m in members)
        want_ns: str | None = conf.get("checkpoint_ns")
        want_id = get_checkpoint_id(config) if config else None
        before_id = get_checkpoint_id(before) if before else None
        remaining = limit
        for tid in tids:
            if want_ns is not None:
                namespaces = [want_ns]
            else:
                [members] = yield Batch([("SMEMBERS", lay.namespaces(tid))])
                namespaces = sorted(_s(m) for m in members)
                if not namespaces and not conf.get("thread_id"):
                    # the thread expired (TTL) or was deleted: forget it in the index too
                    yield Batch([("SREM", lay.threads, tid)])
            for ns in namespaces:
                if want_id:
                    ids = [want_id]
                else:
                    top = f"({before_id}" if before_id else "+"
                    [raw] = yield Batch([("ZREVRANGEBYLEX", lay.ids(tid, ns), top, "-")])
                    ids = [_s(i) for i in raw]
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
                    refs_per_row = [[_s(r) for r in unpack(row[4])] for row in rows]
                    keys = [lay.blob(tid, ns, r) for refs in refs_per_row for r in refs]
                    blobs: list[Any] = []
                    if keys:
                        [blobs] = yield Batch([("MGET", *keys)])
                    pos = 0
                    for (i, c, m, p, _b, w), refs in zip(rows, refs_per_row, strict=True):
                        mine = blobs[pos : pos + len(refs)]
                        pos += len(refs)
                        yield Out(self._tuple(tid, ns, i, c, m, _s(p or b""), w, refs, mine))
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
                values[ref_channel(_s(ref))] = self.serde.loads_typed((kind, data))
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
        namespaces = sorted(_s(m) for m in members)
        if not namespaces:
            return {}
        replies = yield Batch([("ZRANGE", self.layout.ids(tid, ns), 0, -1) for ns in namespaces])
        return {ns: [_s(i) for i in ids] for ns, ids in zip(namespaces, replies, strict=True)}

    def delete_thread(self, thread_id: str) -> Plan:
        lay = self.layout
        inv = yield from self._thread_inventory(thread_id)
        pairs = [(ns, cid) for ns, ids in inv.items() for cid in ids]
        runs = yield Batch([("HGET", lay.checkpoint(thread_id, ns, c), "r") for ns, c in pairs])
        refs = yield Batch([("SMEMBERS", lay.blobset(thread_id, ns)) for ns in inv])
        keys = [lay.namespaces(thread_id)]
        for ns, blob_refs in zip(inv, refs, strict=True):
            keys += [lay.ids(thread_id, ns), lay.blobset(thread_id, ns)]
            keys += [lay.blob(thread_id, ns, _s(r)) for r in blob_refs]
        for ns, cid in pairs:
            keys += [lay.checkpoint(thread_id, ns, cid), lay.writes(thread_id, ns, cid)]
        cmds: list[Cmd] = [("DEL", *keys), ("SREM", lay.threads, thread_id)]
        for (ns, cid), run in zip(pairs, runs, strict=True):
            if run:
                cmds.append(("SREM", lay.run(_s(run)), lay.run_member(thread_id, ns, cid)))
        yield Batch(cmds, atomic=True)

    def _drop_checkpoints(
        self, tid: str, ns: str, cids: Sequence[str], runs: Sequence[Any]
    ) -> list[Cmd]:
        lay = self.layout
        if not cids:
            return []
        cmds: list[Cmd] = [
            (
                "DEL",
                *[k for c in cids for k in (lay.checkpoint(tid, ns, c), lay.writes(tid, ns, c))],
            ),
            ("ZREM", lay.ids(tid, ns), *cids),
        ]
        for cid, run in zip(cids, runs, strict=True):
            if run:
                cmds.append(("SREM", lay.run(_s(run)), lay.run_member(tid, ns, cid)))
        return cmds

    def _gc_blobs(self, tid: str, ns: str) -> Generator[Batch, list[Any], list[Cmd]]:
        """Commands deleting the namespace's blobs that no remaining checkpoint reads."""
        lay = self.layout
        [ids] = yield Batch([("ZRANGE", lay.ids(tid, ns), 0, -1)])
        ids = [_s(i) for i in ids]
        refs_raw = yield Batch(
            [("HGET", lay.checkpoint(tid, ns, i), "b") for i in ids]
            + [("SMEMBERS", lay.blobset(tid, ns))]
        )
        live = {_s(r) for b in refs_raw[:-1] if b for r in unpack(b)}
        dead = [_s(r) for r in refs_raw[-1] if _s(r) not in live]
        if not dead:
            return []
        return [
            ("DEL", *[lay.blob(tid, ns, r) for r in dead]),
            ("SREM", lay.blobset(tid, ns), *dead),
        ]

    def delete_for_runs(self, run_ids: Sequence[str]) -> Plan:
        lay = self.layout
        if not run_ids:
            return None
        member_sets = yield Batch([("SMEMBERS", lay.run(r)) for r in run_ids])
        by_ns: dict[tuple[str, str], list[str]] = defaultdict(list)
        for members in member_sets:
            for m in members:
                tid, ns, cid = lay.split_run_member(_s(m))
                by_ns[(tid, ns)].append(cid)
        cmds: list[Cmd] = []
        for (tid, ns), cids in by_ns.items():
            cmds += self._drop_checkpoints(tid, ns, cids, [None] * len(cids))
        cmds.append(("DEL", *[lay.run(r) for r in run_ids]))
        yield Batch(cmds, atomic=True)
        for tid, ns in by_ns:
            gc = yield from self._gc_blobs(tid, ns)
            if gc:
                yield Batch(gc, atomic=True)
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
                old: list[str] = sorted(ids)[:-1]
                if not old:
                    continue
                runs = yield Batch([("HGET", self.layout.checkpoint(tid, ns, c), "r") for c in old])
                yield Batch(self._drop_checkpoints(tid, ns, old, runs), atomic=True)
                gc = yield from self._gc_blobs(tid, ns)
                if gc:
                    yield Batch(gc, atomic=True)
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
                + [("SMEMBERS", lay.blobset(source, ns))]
            )
            refs = [_s(r) for r in replies[-1]]
            values = (
                (yield Batch([("MGET", *[lay.blob(source, ns, r) for r in refs])]))[0]
                if refs
                else []
            )
            for ref, value in zip(refs, values, strict=True):
                if value is not None:
                    cmds.append(("SET", lay.blob(target, ns, ref), value))
            if refs:
                cmds.append(("SADD", lay.blobset(target, ns), *refs))
            for cid, cp, w in zip(ids, replies[: len(ids)], replies[len(ids) : -1], strict=True):
                if not cp:
                    continue
                cmds.append(("HSET", lay.checkpoint(target, ns, cid), *_flat(cp)))
                if w:
                    cmds.append(("HSET", lay.writes(target, ns, cid), *_flat(w)))
                cmds.append(("ZADD", lay.ids(target, ns), 0, cid))
                run = cp.get(b"r") or cp.get("r")
                if run:
                    cmds.append(("SADD", lay.run(_s(run)), lay.run_member(target, ns, cid)))
            cmds.append(("SADD", lay.namespaces(target), ns))
        cmds.append(("SADD", lay.threads, target))
        written = [
            c[1] for c in cmds if c[0] in ("SET", "HSET", "ZADD", "SADD") and c[1] != lay.threads
        ]
        cmds += self._ttl(list(dict.fromkeys(written)))
        yield Batch(cmds, atomic=True)
        return None


def _flat(mapping: dict[Any, Any]) -> list[Any]:
    return [x for kv in mapping.items() for x in kv]
