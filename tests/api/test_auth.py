"""Keys, tokens, roles and owners: every refusal is a 401 or 403 that says why."""

from __future__ import annotations

from httpx_sse import connect_sse

from api.auth import Authenticator, Principal
from tests.api.conftest import SECRET, Api, events_of


def test_missing_unknown_forged_and_expired_credentials_get_401(api: Api) -> None:
    auth = Authenticator({}, SECRET)
    forged = Authenticator({}, "some-other-secret-of-32-bytes-or-more").mint(
        Principal("admin", "mallory")
    )
    expired = auth.mint(Principal("customer", "cust-john"), ttl_s=-60)  # past the leeway
    with api.client() as c:
        cases = {
            "missing credentials": c.get("/me"),
            "unknown API key": c.get("/me", headers={"X-API-Key": "nope"}),
            "bad token signature": c.get("/me", headers={"Authorization": f"Bearer {forged}"}),
            "token expired": c.get("/me", headers={"Authorization": f"Bearer {expired}"}),
            "malformed token": c.get("/me", headers={"Authorization": "Bearer a.b.c"}),
        }
    for words, r in cases.items():
        assert r.status_code == 401, (words, r.text)
        assert words in r.json()["detail"]
        assert r.headers["www-authenticate"] == "Bearer"


def test_keys_tokens_and_sessions_say_who_is_calling(api: Api) -> None:
    token = Authenticator({}, SECRET).mint(Principal("analyst", "analyst.bo"))
    with api.client("john") as c:
        assert c.get("/me").json() == {"role": "customer", "subject": "cust-john",
                                       "customer_id": "cust-john"}  # fmt: skip
    with api.client() as c:
        r = c.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert r.json()["subject"] == "analyst.bo"
        session = c.post("/auth/session", json={"credential": "key-mary"})
        assert session.status_code == 200
        assert "httponly" in session.headers["set-cookie"].lower()
        assert "samesite=strict" in session.headers["set-cookie"].lower()
        assert c.get("/me").json()["subject"] == "cust-00001"  # the cookie, no header
        c.delete("/auth/session")
        c.cookies.clear()
        assert c.get("/me").status_code == 401


def test_a_customer_reaches_only_their_own_threads_and_profile(api: Api) -> None:
    with (
        api.client("mary") as mary,
        connect_sse(mary, "POST", "/chat/t-mary", json={"message": "Hello"}) as es,
    ):
        run_id = es.response.headers["x-run-id"]
        list(events_of(es))
    hers = "cust-00001~t-mary"  # her thread as staff name it
    with api.client("john") as john:
        refused = {
            "read her thread": john.get(f"/threads/{hers}"),
            "read its state": john.get(f"/threads/{hers}/state"),
            "read its history": john.post(f"/threads/{hers}/history", json={}),
            "read her conversation": john.get(f"/chat/{hers}"),
            "write into it": john.post(f"/chat/{hers}", json={"message": "hi"}),
            "replay her run": john.get(f"/chat/{hers}/runs/{run_id}/stream"),
            "run on it": john.post(f"/threads/{hers}/runs", json={"assistant_id": "chat"}),
            "cancel her run": john.post(f"/threads/{hers}/runs/{run_id}/cancel"),
            "create it": john.post("/threads", json={"thread_id": hers}),
            "read her profile": john.get("/customers/cust-00001/profile"),
        }
        for what, r in refused.items():
            assert r.status_code in (403, 422), (what, r.status_code, r.text)
            assert r.json()["detail"], what
        # her ids are not his: "t-mary" is nothing of his, and her run is not in it
        assert john.get("/threads/t-mary").status_code == 404
        assert john.get(f"/chat/t-mary/runs/{run_id}/stream").status_code == 404
        assert john.post("/threads/search", json={}).json() == []
        own = john.get("/customers/cust-john/profile").json()
        assert own["credit_score"] == 795
        assert "cards" not in own  # a customer's view only
        assert "flags" not in own
    with api.client("analyst") as analyst:
        assert analyst.get(f"/threads/{hers}").status_code == 200
        assert analyst.get("/threads/t-mary").status_code == 404  # the analyst's own ids
        assert "cards" in analyst.get("/customers/cust-00001/profile").json()
        assert [t["thread_id"] for t in analyst.post("/threads/search", json={}).json()] == [hers]


def test_thread_ids_belong_to_their_owner(api: Api) -> None:
    """Thread ids were one namespace across customers: customer B creating "my-thread"
    (the README's example) locked John out of it with 403s."""
    with api.client("mary") as mary:
        made = mary.post("/threads", json={"thread_id": "my-thread", "metadata": {"who": "mary"}})
        assert made.status_code == 200
    with api.client("john") as john:
        made = john.post("/threads", json={"thread_id": "my-thread", "metadata": {"who": "john"}})
        assert made.status_code == 200, made.text
        assert made.json()["thread_id"] == "my-thread"
        with connect_sse(john, "POST", "/chat/my-thread", json={"message": "Hello"}) as es:
            assert es.response.status_code == 200
            assert es.response.headers["location"].startswith("/chat/my-thread/runs/")
            list(events_of(es))
        assert john.get("/threads/my-thread").json()["metadata"] == {"who": "john"}
        [run] = john.get("/threads/my-thread/runs").json()
        assert run["thread_id"] == "my-thread"
    with api.client("mary") as mary:
        assert mary.get("/threads/my-thread").json()["metadata"] == {"who": "mary"}
        assert mary.get("/threads/my-thread/runs").json() == []
    with api.client("analyst") as analyst:
        found = {t["thread_id"]: t["metadata"] for t in
                 analyst.post("/threads/search", json={}).json()}  # fmt: skip
        assert found == {"cust-john~my-thread": {"who": "john"},
                         "cust-00001~my-thread": {"who": "mary"}}  # fmt: skip
        messages = analyst.get("/chat/cust-john~my-thread").json()["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant"]


def test_a_customer_cannot_reach_the_approvals(api: Api) -> None:
    with api.client("john") as john:
        for r in (
            john.get("/approvals"),
            john.get("/approvals/appr-x"),
            john.get("/approvals/events"),
            john.post("/approvals/appr-x/approve", json={}),
            john.post("/approvals/appr-x/reject", json={"reason": "no"}),
        ):
            assert r.status_code == 403, r.text
            assert "needs the analyst or admin role" in r.json()["detail"]
    with api.client("analyst") as analyst:
        assert analyst.get("/approvals").json() == []
        r = analyst.post("/approvals/appr-x/approve", json={})
        assert r.status_code == 404
        assert "no approval appr-x" in r.json()["detail"]
