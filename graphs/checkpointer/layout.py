"""Where a thread's checkpoints live in Redis, and how values are encoded there.

Per thread ``T = <prefix>:t:<thread_id>`` (``S`` = the 0x1F unit separator, which
neither namespaces nor channel names use):

====================  ======  ==============================================================
key                   type    holds
====================  ======  ==============================================================
``T:ns``              SET     the thread's checkpoint namespaces
``T:ids S ns``        ZSET    checkpoint ids of a namespace (score 0; ids sort by time, lex)
``T:cp S ns S id``    HASH    ``c`` checkpoint sans values, ``m`` metadata, ``p`` parent id,
                              ``r`` run id, ``b`` msgpack list of the blob refs it reads
``T:w S ns S id``     HASH    pending writes: ``task_id S idx`` -> msgpack record
``T:b S ns S ch S v`` STRING  one channel value at one version, shared by every checkpoint
                              that has that version: stored once (no key for an empty value)
``<prefix>:threads``  SET     thread ids (for listing without a thread)
``<prefix>:run:<id>`` SET     ``thread S ns S id`` of every checkpoint a run wrote
====================  ======  ==============================================================

Typed values from the serializer are stored as ``type NUL bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ormsgpack

SEP = "\x1f"


def enc_typed(typed: tuple[str, bytes]) -> bytes:
    return typed[0].encode() + b"\x00" + typed[1]


def dec_typed(raw: bytes) -> tuple[str, bytes]:
    kind, _, data = raw.partition(b"\x00")
    return kind.decode(), data


def pack(value: Any) -> bytes:
    return ormsgpack.packb(value)


def unpack(raw: bytes) -> Any:
    return ormsgpack.unpackb(raw)


def blob_ref(channel: str, version: str | int | float) -> str:
    return f"{channel}{SEP}{version}"


def ref_channel(ref: str) -> str:
    return ref.split(SEP, 1)[0]


@dataclass(frozen=True, slots=True)
class Layout:
    prefix: str

    @property
    def threads(self) -> str:
        return f"{self.prefix}:threads"

    def run(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}"

    def thread(self, tid: str) -> str:
        return f"{self.prefix}:t:{tid}"

    def namespaces(self, tid: str) -> str:
        return f"{self.thread(tid)}:ns"

    def ids(self, tid: str, ns: str) -> str:
        return f"{self.thread(tid)}:ids{SEP}{ns}"

    def checkpoint(self, tid: str, ns: str, cid: str) -> str:
        return f"{self.thread(tid)}:cp{SEP}{ns}{SEP}{cid}"

    def writes(self, tid: str, ns: str, cid: str) -> str:
        return f"{self.thread(tid)}:w{SEP}{ns}{SEP}{cid}"

    def blob(self, tid: str, ns: str, ref: str) -> str:
        return f"{self.thread(tid)}:b{SEP}{ns}{SEP}{ref}"

    @staticmethod
    def run_member(tid: str, ns: str, cid: str) -> str:
        return f"{tid}{SEP}{ns}{SEP}{cid}"

    @staticmethod
    def split_run_member(member: str) -> tuple[str, str, str]:
        tid, ns, cid = member.rsplit(SEP, 2)
        return tid, ns, cid
