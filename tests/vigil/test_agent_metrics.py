"""An agent replica's /metrics under hostile requests: it answers every request, and it keeps
serving (the port is on 127.0.0.1, but a scraper's mistakes and a port scan must not kill it)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.agents.test_escalation_stage import scrape
from vigil.runtime.prometheus import AgentCollector, MetricsServer

HOSTILE = [
    "/metrics?name[]=vigil_agent_events_total", "/../../etc/passwd", "/%00",
    "/metrics?" + "a" * 9000,
    "/\x01\x1f", "/metrics?name[]=%ff%fe", "//metrics", "/metrics#x", "*",
    # a target Python splits on: the request line read as HTTP/0.9, once answered bare
    "\t", "\x0b", "\x1c", "\x1f", "\x85", "\xa0", "/a\tb",
]  # fmt: skip


@pytest.fixture(scope="module")
def server() -> Iterator[MetricsServer]:
    running = MetricsServer(AgentCollector(list, dict), "127.0.0.1", 0)
    try:
        yield running
    finally:
        running.close()


def raw_request(port: int, target: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(
            b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        conn.settimeout(5)
        out = b""
        while chunk := conn.recv(65536):
            out += chunk
        return out


@given(target=st.one_of(
    st.sampled_from(HOSTILE).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(min_size=1, max_size=300).filter(lambda b: b" " not in b and b"\r" not in b
                                               and b"\n" not in b),
    st.text(max_size=200).map(lambda t: ("/" + t).encode("utf-8", "surrogatepass")),
))  # fmt: skip
@hsettings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_hostile_requests_get_an_answer_and_the_server_keeps_serving(
    server: MetricsServer, target: bytes
) -> None:
    assert server.url is not None
    port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    answer = raw_request(port, target.replace(b" ", b"%20").replace(b"\r", b"").replace(b"\n", b""))
    assert answer.startswith(b"HTTP/1."), answer[:200]
    assert scrape(server.url) == {}  # no agents: no samples, and it still answers


def test_each_listed_hostile_target_gets_a_status_line(server: MetricsServer) -> None:
    """The listed ones every run, not only when the search above draws them."""
    assert server.url is not None
    port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    for target in HOSTILE:
        answer = raw_request(port, target.encode("utf-8", "surrogatepass"))
        assert answer.startswith(b"HTTP/1."), (target, answer[:80])
