"""The OpenAPI spec, fuzzed with schemathesis against the running app: never a 5xx.

Every operation gets generated requests (valid and invalid bodies, paths, queries) with an
admin's key, the role that reaches every route. The approvals feed is left out: it is an
endless stream by design (its refusals are tested in test_auth).

(schemathesis' pytest loader ``from_fixture`` does not run on pytest 9, so the operations
are driven through their hypothesis strategies here.)
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET

from tests.api.conftest import Api

ENDLESS = {"GET /approvals/events"}


def test_no_request_gets_a_server_error(api: Api) -> None:
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    labels = [op.label for op in operations]
    assert "POST /chat/{thread_id}" in labels
    assert len(labels) > 20
    fuzzed = []
    for op in operations:
        if op.label in ENDLESS:
            continue

        @given(case=op.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)  # fmt: skip
        def call(case: Any) -> None:
            case.call_and_validate(
                headers=api.auth("admin"), checks=[not_a_server_error], timeout=30
            )

        call()
        fuzzed.append(op.label)
    assert len(fuzzed) == len(labels) - len(ENDLESS)


#: strings no valid request carries: lone surrogates, NUL and control characters, path
#: separators, right-to-left overrides, and numbers no field can hold
HOSTILE: list[Any] = [
    "\ud800", "\udfff", "a\udc80b", "a\x00b", "\x1f\x7f", "../../../etc/passwd", "..\\..\\x",
    "\u202eevil", "%00", "x" * 5000, 2**64 + 1, -(2**63) - 1, 10**400, 1e308, -1e308, 5e-324,
    "NaN", "-Infinity", "", " ", [], {}, None, True,
]  # fmt: skip


def _mutate(value: Any, draw: Any) -> Any:
    """The value with some of its leaves (or itself) swapped for hostile ones."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(HOSTILE))
    if isinstance(value, dict):
        return {k: _mutate(v, draw) for k, v in value.items()}
    if isinstance(value, list):
        return [_mutate(v, draw) for v in value]
    return value


def _in_url(value: Any) -> str:
    """A path or query value as the bytes an attacker would send: lone surrogates as their
    (invalid) UTF-8, percent-encoded."""
    return quote(str(value).encode("utf-8", "surrogatepass"), safe="")


def test_hostile_values_in_every_field_never_get_a_server_error(api: Api) -> None:
    """Every operation's generated requests with body fields, query and path parameters
    and Last-Event-ID swapped for lone surrogates, control characters, path separators and
    numbers beyond any integer type: never a 5xx."""
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    fuzzed = []
    with httpx.Client(base_url=api.url, headers=api.auth("admin"), timeout=30) as client:
        for op in operations:
            if op.label in ENDLESS:
                continue

            @given(case=op.as_strategy(), data=st.data())
            @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck),
                      database=None)  # fmt: skip
            def call(case: Any, data: st.DataObject) -> None:
                draw = data.draw
                path = case.path
                for name, value in (case.path_parameters or {}).items():
                    path = path.replace(f"{{{name}}}", _in_url(_mutate(value, draw)))
                query = "&".join(f"{_in_url(k)}={_in_url(_mutate(v, draw))}"
                                 for k, v in (case.query or {}).items())  # fmt: skip
                headers = {"Last-Event-ID": _in_url(draw(st.sampled_from(HOSTILE)))}
                content = None
                if case.body is not NOT_SET and case.body is not None:
                    body = _mutate(case.body, draw)
                    content = json.dumps(body).encode()  # lone surrogates as \ud800
                    headers["content-type"] = "application/json"
                url = path + (f"?{query}" if query else "")
                r = client.request(case.method, url, content=content, headers=headers)
                if path.endswith("/stream") or path.endswith("/events"):
                    r.close()
                assert r.status_code < 500, (case.method, url, content and content[:300],
                                             r.status_code, r.text[:500])  # fmt: skip

            call()
            fuzzed.append(op.label)
    assert len(fuzzed) == len(operations) - len(ENDLESS)
