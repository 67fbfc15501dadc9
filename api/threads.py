"""Threads in Redis: who owns each, its metadata and status, searchable per owner."""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aredis

from api.errors import ConflictError, ForbiddenError, NotFoundError
from api.runs import now_iso

Thread = dict[str, Any]

#: an owner's part of a thread id as it is: letters, digits and ._- (else a digest of it)
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: a thread id in a URL: the owner's own id, or (staff) ``<owner>~<id>``
THREAD_ID_PATTERN = r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,63}~)?[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


def owner_tag(subject: str) -> str:
    """The owner part of the thread ids of this subject."""
    if _TAG.match(subject):
        return subject
    return "h" + hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:24]


@dataclass(frozen=True)
class ThreadRef:
    """A thread as a caller names it (``public``) and as it is stored (``internal``:
    ``<owner>~<id>``). Thread ids are per owner: customer B's ``my-thread`` is not John's.
    Staff reach another owner's thread by the ``<owner>~<id>`` they see in a search."""

    public: str
    internal: str

    @classmethod
    def of(cls, principal: Any, thread_id: str) -> ThreadRef:
        mine = owner_tag(principal.subject)
        tag, qualified, local = thread_id.rpartition("~")
        if not qualified or tag == mine:
            return cls(local, f"{mine}~{local}")
        if not principal.staff:
            raise ForbiddenError(f"thread {thread_id} belongs to another customer")
        return cls(thread_id, thread_id)

    def mine(self, principal: Any) -> bool:
        return self.internal.partition("~")[0] == owner_tag(principal.subject)


def shown_id(principal: Any, internal: str) -> str:
    """A stored thread id as this caller names it: their own without the owner part."""
    tag, _, local = internal.partition("~")
    return local if tag == owner_tag(principal.subject) else internal


#: create a thread unless it exists (then return it): one round trip
_CREATE = """
if redis.call("SET", KEYS[1], ARGV[1], "NX") then
  redis.call("ZADD", KEYS[2], ARGV[2], ARGV[3])
  redis.call("ZADD", KEYS[3], ARGV[2], ARGV[3])
  return false
end
return redis.call("GET", KEYS[1])
"""


def thread_status(run_status: str) -> str:
    """What a thread shows once a run of it has ended."""
    return {"interrupted": "interrupted", "error": "error", "timeout": "error"}.get(
        run_status, "idle"
    )


class ThreadStore:
    def __init__(self, client: aredis.Redis, *, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._create = client.register_script(_CREATE)

    def key(self, thread_id: str) -> str:
        return f"{self.prefix}:api:thread:{thread_id}"

    def index(self, owner: str | None = None) -> str:
        return f"{self.prefix}:api:threads" + (f":owner:{owner}" if owner else "")

    @staticmethod
    def checkpoint_id(thread_id: str) -> str:
        """The graph thread behind an API thread: apart from the agents' threads."""
        return f"api:{thread_id}"

    async def create(
        self, thread_id: str, owner: str, metadata: dict[str, Any], *, if_exists: str = "raise"
    ) -> tuple[Thread, bool]:
        """``thread_id``: the stored id (``ThreadRef.internal``), under ``owner``'s part."""
        if thread_id.partition("~")[0] != owner_tag(owner):
            raise ForbiddenError("a thread can be created only under your own ids")
        stamp = now_iso()
        thread: Thread = {
            "thread_id": thread_id,
            "owner": owner,
            "created_at": stamp,
            "updated_at": stamp,
            "metadata": metadata,
            "status": "idle",
            "values": {},
        }
        raw = await self._create(
            keys=[self.key(thread_id), self.index(), self.index(owner)],
            args=[json.dumps(thread), time.time(), thread_id],
        )
        if raw is None:
            return thread, True
        existing: Thread = dict(json.loads(raw))
        if existing["owner"] != owner:
            raise ForbiddenError(f"thread {thread_id} belongs to someone else")
        if if_exists != "do_nothing":
            raise ConflictError(
                f"thread {thread_id} already exists (send if_exists='do_nothing' to reuse)"
            )
        return existing, False

    async def get(self, thread_id: str) -> Thread | None:
        raw = await self.client.get(self.key(thread_id))
        return None if raw is None else dict(json.loads(raw))

    async def owned(self, thread_id: str, principal: Any) -> Thread:
        """The thread, if this principal may read it: 404 unknown, 403 someone else's."""
        thread = await self.get(thread_id)
        if thread is None:
            raise NotFoundError(f"no thread {shown_id(principal, thread_id)}")
        if not principal.may_read(thread["owner"]):
            raise ForbiddenError(f"thread {shown_id(principal, thread_id)} belongs to another "
                                 "customer")  # fmt: skip
        return thread

    async def update(self, thread_id: str, *, known: Thread | None = None, **fields: Any) -> None:
        """Set fields of a thread; ``known``: the thread as just read (saves reading it)."""
        thread = dict(known) if known is not None else await self.get(thread_id)
        if thread is None:
            return
        thread.update(fields, updated_at=now_iso())
        score = time.time()
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.set(self.key(thread_id), json.dumps(thread))
            pipe.zadd(self.index(), {thread_id: score})
            pipe.zadd(self.index(thread["owner"]), {thread_id: score})
            await pipe.execute()

    async def delete(self, thread_id: str) -> None:
        thread = await self.get(thread_id)
        if thread is None:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.delete(self.key(thread_id))
            pipe.zrem(self.index(), thread_id)
            pipe.zrem(self.index(thread["owner"]), thread_id)
            await pipe.execute()

    async def search(
        self,
        owner: str | None,
        *,
        metadata: dict[str, Any] | None = None,
        status: str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[Thread]:
        """Newest first; ``owner`` None searches every thread (staff)."""
        out: list[Thread] = []
        skipped, start, page = 0, 0, 200
        while len(out) < limit:
            ids: list[Any] = await self.client.zrevrange(self.index(owner), start, start + page - 1)
            if not ids:
                break
            start += page
            for raw_id in ids:
                tid = raw_id.decode()
                thread = await self.get(tid)
                if thread is None or (status and thread["status"] != status):
                    continue
                if metadata and any(thread["metadata"].get(k) != v for k, v in metadata.items()):
                    continue
                if skipped < offset:
                    skipped += 1
                    continue
                out.append(thread)
                if len(out) >= limit:
                    break
        return out
