"""Odd and hostile requests that answered 5xx, never ended, or were let through: each now
gets a clear 4xx (or the end of its stream), on the real API, Redis and broker."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from httpx_sse import connect_sse

from graphs.llm.fake import ScriptedChatModel
from ingestion.dlq import DeadLetter
from tests.api.conftest import SECRET, Api, Server, events_of, serve_api
from tests.api.test_chat_sse import LONG, chat
from tests.ingestion.kafkautil import produce_raw, read_all
from tests.ingestion.test_retrieval_conformance import EMBEDDER
from vigil.settings import Stream
from vigil.wiring.feeds import ingestion


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(claims_json: bytes) -> str:
    """A token signed with the API's secret whose payload is exactly these bytes."""
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(claims_json)
    sig = hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(sig)}"


def test_a_lone_surrogate_is_refused_at_the_door_and_never_stored(api: Api) -> None:
    """A lone surrogate in thread metadata was stored; then every read of the thread and
    every /threads/search page holding it answered 500, for every analyst."""
    with api.client("john") as c:
        cases = [
            c.post("/threads", content=b'{"thread_id": "t-sur", "metadata": {"a": "\\ud800"}}',
                   headers={"content-type": "application/json"}),
            c.post("/threads", content=b'{"thread_id": "t-sur", "metadata": {"\\udfff": 1}}',
                   headers={"content-type": "application/json"}),
            c.post("/chat/t-sur2", content=b'{"message": "hello \\udc80 there"}',
                   headers={"content-type": "application/json"}),
            c.post("/threads/search", content=b'{"metadata": {"a": ["\\uD800"]}}',
                   headers={"content-type": "application/json"}),
        ]  # fmt: skip
        for r in cases:
            assert r.status_code == 400, r.text
            assert "lone surrogate" in r.json()["detail"]
        json_type = {"content-type": "application/json"}
        raw = c.post("/chat/t-sur3", content=b'{"message": "hi \xed\xa0\x80"}', headers=json_type)
        assert raw.status_code == 400, raw.text  # the surrogate as raw bytes: not UTF-8
        assert "not valid UTF-8" in raw.json()["detail"]
        deep = b'{"metadata": ' + b"[" * 5000 + b'"\\ud800"' + b"]" * 5000 + b"}"
        nested = c.post("/threads", content=deep, headers=json_type)
        assert 400 <= nested.status_code < 500, nested.text
        # a pair of surrogates is a real character (an emoji): fine
        emoji = b'{"thread_id": "t-emoji", "metadata": {"a": "\\ud83d\\ude00"}}'
        ok = c.post("/threads", content=emoji, headers={"content-type": "application/json"})
        assert ok.status_code == 200, ok.text
        assert ok.json()["metadata"] == {"a": "\U0001f600"}
        assert c.get("/threads/t-sur").status_code == 404  # never stored
    with api.client("analyst") as c:
        found = c.post("/threads/search", json={"limit": 100})
        assert found.status_code == 200
        assert "cust-john~t-emoji" in [t["thread_id"] for t in found.json()]


def test_tokens_with_odd_claims_get_401_never_500_or_forever(api: Api) -> None:
    """A signed token whose payload is a JSON array answered 500; one with "exp": NaN
    never expired."""
    now = int(time.time())
    # every claim a valid token needs, so each row's odd value is what is refused
    rest = b'"iss": "vigil", "aud": "vigil-api", "iat": %d' % now
    odd = {
        b"[1, 2]": "must be a json object",
        b'"just a string"': "must be a json object",
        b'{"sub": "ops", "role": "admin", "exp": NaN, %s}' % rest: "malformed token",
        b'{"sub": "ops", "role": "admin", "exp": Infinity, %s}' % rest: "malformed token",
        b'{"sub": "ops", "role": "admin", "exp": 1e400, %s}' % rest: "malformed token",
        b'{"sub": "ops", "role": "admin", "exp": true, %s}' % rest: "expired",
        b'{"sub": "ops", "role": "admin", "exp": "9999999999", %s}' % rest:
            "'exp' must be a number",
        b'{"sub": "ops", "role": "admin", "exp": %d, "iss": "vigil", "aud": "vigil-api", '
        b'"iat": true}' % (now + 60): "'iat' must be a number",
        b'{"sub": "ops", "role": "admin", %s}' % rest: 'missing the "exp" claim',
        b'{"sub": ["ops"], "role": "admin", "exp": %d, %s}' % (now + 60, rest): "must be a string",
        b'{"sub": "o/../ps", "role": "admin", "exp": %d, %s}' % (now + 60, rest):
            "must be strings",
        b'{"sub": "ops", "role": "root", "exp": %d, %s}' % (now + 60, rest): "claims rejected",
        b"[" * 5000 + b"]" * 5000: "malformed token",
    }  # fmt: skip
    with api.client() as c:
        for payload, words in odd.items():
            r = c.get("/me", headers={"Authorization": f"Bearer {signed(payload)}"})
            assert r.status_code == 401, (payload, r.text)
            assert words in r.json()["detail"], (payload, r.text)
        good = signed(b'{"sub": "ops", "role": "admin", "exp": %d, %s}' % (now + 60, rest))
        assert c.get("/me", headers={"Authorization": f"Bearer {good}"}).status_code == 200


def test_signing_out_ends_the_session_even_for_a_copy_of_the_cookie(api: Api) -> None:
    """Logging out deleted the cookie in the browser, but the cookie itself stayed valid
    until it expired: anyone holding a copy stayed signed in."""
    with api.client() as c:
        assert c.post("/auth/session", json={"credential": "key-ana"}).status_code == 200
        cookie = c.cookies["vigil_session"]
        assert c.get("/me").json()["subject"] == "analyst.ana"
        assert c.delete("/auth/session").status_code == 204
    with api.client(cookies={"vigil_session": cookie}) as other:
        r = other.get("/me")
        assert r.status_code == 401
        assert "session closed" in r.json()["detail"]
        # a new session is a new one
        other.cookies.clear()
        assert other.post("/auth/session", json={"credential": "key-ana"}).status_code == 200
        assert other.get("/me").json()["subject"] == "analyst.ana"


def test_the_agent_protocol_run_route_has_the_chat_limits(api: Api) -> None:
    """The run route took a 60,000-character message (the 4,000 limit was /chat's only),
    and any message id, which becomes a message id in the thread's state."""
    with api.client("john") as c:
        assert c.post("/threads", json={"thread_id": "t-ap"}).status_code == 200
        cases = [
            ({"messages": ["x" * 60_000]}, "the limit is 4000"),
            ({"messages": [{"role": "user", "content": "hi", "id": "../../etc"}]}, ".id must"),
            ({"messages": [{"role": "user", "content": "hi", "id": "x" * 129}]}, ".id must"),
            ({"messages": ["hi"] * 21}, "the limit is 20"),
        ]
        for inp, words in cases:
            r = c.post("/threads/t-ap/runs", json={"assistant_id": "chat", "input": inp})
            assert r.status_code == 400, r.text
            assert words in r.json()["detail"]


def chunks(size: int, piece: int = 8192) -> Iterator[bytes]:
    yield b'{"message": "'
    sent = 0
    while sent < size:
        yield b"x" * piece
        sent += piece
    yield b'"}'


def test_a_chunked_body_over_the_limit_gets_413(api: Api) -> None:
    """Without a Content-Length the limit was found inside the app's body parsing, which
    answered 400."""
    with api.client("john") as c:
        r = c.post("/chat/t-chunked", content=chunks(100_000),
                   headers={"content-type": "application/json"})  # fmt: skip
        assert r.status_code == 413, r.text
        assert "too large" in r.json()["detail"]
        small = c.post("/chat/t-chunked", content=iter([b'{"message": "hello"}']),
                       headers={"content-type": "application/json"})  # fmt: skip
        assert small.status_code == 200


def test_last_event_id_out_of_range_is_400_and_past_the_end_gets_the_end(api: Api) -> None:
    """A Last-Event-ID above 2^64 broke the stream with a Redis error; one at or past a
    finished run's end got pings until the events expired (an hour)."""
    chat(api, "t-past", "hello")
    with api.client("john") as c:
        [meta] = c.get("/threads/t-past/runs").json()
        url = f"/chat/t-past/runs/{meta['run_id']}/stream"
        for huge in (str(2**64 + 1), str(10**40), "-1"):
            r = c.get(url, headers={"Last-Event-ID": huge})
            assert r.status_code == 400, r.text
            assert "Last-Event-ID must be an event number in 0.." in r.json()["detail"]
        with connect_sse(c, "GET", url) as es:
            every = list(events_of(es))
        end = int(every[-1].id)
        assert every[-1].event == "end"
        for after in (end, end + 1, 2**53):
            started = time.monotonic()
            with connect_sse(c, "GET", url, headers={"Last-Event-ID": str(after)}) as es:
                got = list(events_of(es))
            assert [(e.event, e.id) for e in got] == [("end", str(end))]
            assert time.monotonic() - started < 5


def test_past_the_end_from_another_api_process_gets_the_end(api: Api) -> None:
    """The same from a process that did not run it: its events come from Redis."""
    chat(api, "t-past2", "hello")
    with api.client("john") as c:
        [meta] = c.get("/threads/t-past2/runs").json()
    app, deps = serve_api(api.settings, api.deps.redis, "", ScriptedChatModel(script=["-"]))
    try:
        with Server(app) as other, httpx.Client(base_url=other.url, headers=api.auth("john"),
                                                timeout=30) as c:  # fmt: skip
            url = f"/chat/t-past2/runs/{meta['run_id']}/stream"
            with connect_sse(c, "GET", url) as es:
                every = list(events_of(es))
            end = every[-1].id
            started = time.monotonic()
            with connect_sse(c, "GET", url, headers={"Last-Event-ID": str(int(end) + 5)}) as es:
                got = list(events_of(es))
            assert [(e.event, e.id) for e in got] == [("end", end)]
            assert time.monotonic() - started < 5
    finally:
        if deps.close:
            deps.close()


def test_a_customer_change_with_a_version_past_2_53_is_dead_lettered_and_the_profile_lives(
    api: Api,
) -> None:
    """A change with version 10^19 made that profile answer 500 for good, and 10^16 + 1 was
    stored as 10^16 (Redis keeps numbers as doubles). Versions above 2^53 are refused by
    the contract and dead-lettered; the profile keeps answering, at its last good version."""
    s = api.settings
    topic = s.topic(Stream.CUSTOMER_CHANGES)
    good = {"customer_id": "cust-john", "version": 7, "op": "patch",
            "changed_at": "2026-11-03T09:15:00Z", "profile": {"credit_score": 801}}  # fmt: skip
    items = [
        (b"cust-john", json.dumps({**good, "version": v, "profile": {"credit_score": c}}).encode())
        for v, c in ((10**19, 300), (10**16 + 1, 301), (2**53 + 1, 302))
    ]
    items.append((b"cust-john", json.dumps(good).encode()))  # fmt: skip
    produce_raw(s.kafka_bootstrap or "", topic, items)
    feeds = ingestion(s, client=api.deps.redis, embedder=EMBEDDER)
    try:
        m = feeds.profiles.run(count=4, timeout=60)
    finally:
        feeds.profiles.close()
        feeds.knowledge.close()
    assert (m.processed, m.dead_lettered) == (1, 3)
    letters = read_all(s.kafka_bootstrap or "", s.dlq_topic(topic), 3)
    reasons = [DeadLetter.from_record(r).reason for r in letters]
    assert all("version" in r for r in reasons), reasons
    with api.client("john") as c:
        r = c.get("/customers/cust-john/profile")
        assert r.status_code == 200, r.text
        assert r.json()["credit_score"] == 801
    with api.client("analyst") as c:
        assert c.get("/customers/cust-john/profile").status_code == 200


@pytest.mark.script(LONG, api_reconnect_grace_s=5.0)
def test_past_the_end_of_a_run_still_going_gets_the_end_when_it_ends(api: Api) -> None:
    """Attached to a running turn with a Last-Event-ID beyond its last event, a client got
    pings for good once the turn ended."""
    api.model.token_delay_s = 0.02
    with (
        api.client("john") as c,
        connect_sse(c, "POST", "/chat/t-ahead", json={"message": "Tell me"}) as es,
        httpx.Client(base_url=api.url, headers=api.auth("john"), timeout=30) as other,
    ):
        started = time.monotonic()
        location = es.response.headers["location"]
        with connect_sse(other, "GET", location, headers={"Last-Event-ID": "100000"}) as ahead:
            got = list(events_of(ahead))
        mine = list(events_of(es))
    assert [e.event for e in got] == ["end"]
    assert got[0].id == mine[-1].id
    assert time.monotonic() - started < 20
