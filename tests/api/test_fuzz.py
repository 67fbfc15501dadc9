"""The OpenAPI spec, fuzzed with schemathesis against the running app: never a 5xx.

Every operation gets generated requests (valid and invalid bodies, paths, queries) with an
admin's key, the role that reaches every route. The approvals feed is left out: it is an
endless stream by design (its refusals are tested in test_auth).

(schemathesis' pytest loader ``from_fixture`` does not run on pytest 9, so the operations
are driven through their hypothesis strategies here.)
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

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
