"""The CLI as a user runs it: child processes, real servers, clear errors."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ingestion.contracts import Transaction
from ingestion.seed import seed_documents
from tests.conftest import NO_MODEL, clean_env, run_vigil, wait_for
from tests.ingestion.kafkautil import read_all
from vigil.runtime.embedded import pid_alive
from vigil.runtime.stack import read_state
from vigil.settings import Stream


def env_with(**values: str) -> dict[str, str]:
    env = clean_env()
    env.update({f"VIGIL_{k.upper()}": v for k, v in values.items()})
    return env


def test_help_explains_every_command() -> None:
    out = run_vigil("--help").stdout
    for command in ("config", "up", "simulate", "demo", "bench"):
        assert command in out
    sim = run_vigil("simulate", "--help").stdout
    for option in ("--scenario", "--inject", "--count", "--rate", "--seed", "--start"):
        assert option in sim


def test_config_prints_effective_settings_with_secrets_masked(tmp_path: Path) -> None:
    env = env_with(
        redis_url="redis://default:s3cretpw@cache:6379/0",
        lake_hash_key="k3y-very-secret-0123456789abcdef0123",
        topic_alerts="alerts.eu",
    )
    res = run_vigil("config", "--json", env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "s3cretpw" not in res.stdout
    assert "k3y-very-secret-0123456789abcdef0123" not in res.stdout
    values = json.loads(res.stdout)
    assert values["topic_alerts"] == "alerts.eu"
    assert values["redis_url"] == "redis://default:***@cache:6379/0"
    assert values["kafka_bootstrap"] is None
    table = run_vigil("config", env=env, cwd=tmp_path)
    assert "VIGIL_KAFKA_BOOTSTRAP" in table.stdout
    assert "s3cretpw" not in table.stdout


def test_bad_configuration_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    res = run_vigil("config", env=env_with(embedded_kafka_port="lots"), cwd=tmp_path)
    assert res.returncode == 2
    assert "invalid configuration" in res.stderr
    assert "embedded_kafka_port" in res.stderr
    assert "Traceback" not in res.stderr


def test_up_on_an_occupied_port_says_so(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        env = env_with(data_dir=str(tmp_path), embedded_redis_port=str(port))
        res = run_vigil("up", env=env, cwd=tmp_path)
    assert res.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_up_serves_until_signalled_then_stops_its_children(tmp_path: Path, how: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "vigil", "up"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env_with(data_dir=str(tmp_path), api_port="0", api_dev_keys="true"),
        cwd=tmp_path,
    )
    try:
        wait_for(lambda: read_state(tmp_path) is not None, 120, "vigil up to be ready")
        state = read_state(tmp_path)
        assert state is not None
        assert set(state.children) == {"kafka", "redis", "api"}
        children = list(state.children.values())
        assert all(pid_alive(p) for p in children)
        # the API is up on the stack: it answers, and knows who a dev key is
        assert state.api_url is not None
        assert httpx.get(f"{state.api_url}/health").json()["status"] == "ok"
        me = httpx.get(f"{state.api_url}/me", headers={"X-API-Key": "dev-analyst"})
        assert me.json()["role"] == "analyst"
        # another command finds the running stack by itself
        sim = run_vigil(
            "simulate", "--scenario", "london-paris", env=env_with(data_dir=str(tmp_path))
        )
        assert sim.returncode == 0, sim.stderr
        assert "produced 2 events" in sim.stdout
        proc.send_signal(how)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Kafka" in out
    assert "Redis" in out
    assert "stopped (exit code 0)" in out
    assert "api stopped (exit code 0)" in out
    assert not any(pid_alive(p) for p in children)
    assert read_state(tmp_path) is None


def test_simulate_london_paris_prints_and_produces_the_story(
    kafka_bootstrap: str, uid: str
) -> None:
    topic = f"transactions.cli.{uid}"
    res = run_vigil(
        "simulate",
        "--scenario",
        "london-paris",
        env=env_with(kafka_bootstrap=kafka_bootstrap, topic_transactions=topic),
    )
    assert res.returncode == 0, res.stderr
    printed = [line for line in res.stdout.splitlines() if line.startswith(topic)]
    assert len(printed) == 2
    assert "King's Cross" in printed[0]
    assert "Paris" in printed[1]
    records = read_all(kafka_bootstrap, topic, 2)
    story = [Transaction.model_validate_json(r.value) for r in records]
    assert [t.city for t in sorted(story, key=lambda t: t.timestamp)] == ["London", "Paris"]


def test_simulate_bulk_traffic_reports_what_it_produced(kafka_bootstrap: str, uid: str) -> None:
    env = env_with(
        kafka_bootstrap=kafka_bootstrap,
        **{f"topic_{s.name.lower()}": f"{s.value}.{uid}" for s in Stream},
    )
    res = run_vigil(
        "simulate", "--count", "300", "--rate", "0", "--customers", "20", "--quiet", env=env
    )
    assert res.returncode == 0, res.stderr
    assert "produced 320 events" in res.stdout
    summary = res.stdout.split("produced 320 events:")[1]
    counts = {t: int(n) for n, t in (part.strip().split(" to ") for part in summary.split(","))}
    assert set(counts) <= {f"{s.value}.{uid}" for s in Stream}
    assert counts[f"transactions.{uid}"] > 250
    assert counts[f"customers.changes.{uid}"] >= 20  # every profile, then the odd change
    assert sum(counts.values()) == 320


def test_simulate_without_kafka_explains_what_to_do(tmp_path: Path) -> None:
    res = run_vigil("simulate", "--scenario", "london-paris", env=env_with(data_dir=str(tmp_path)))
    assert res.returncode == 2
    assert "no Kafka configured" in res.stderr
    assert "vigil up" in res.stderr


def test_simulate_unknown_scenario_lists_the_choices(kafka_bootstrap: str) -> None:
    res = run_vigil(
        "simulate", "--scenario", "moon-landing", env=env_with(kafka_bootstrap=kafka_bootstrap)
    )
    assert res.returncode == 2
    assert "london-paris" in res.stderr


@pytest.mark.slow
def test_demo_runs_the_story_again_on_a_used_data_folder(tmp_path: Path) -> None:
    """Valkey reloads its AOF from the data folder: the second run must still be the
    story (its own transactions, its own approval, one block), not wait for the first's."""
    env = env_with(data_dir=str(tmp_path))
    blocked: list[str] = []
    for run in (1, 2):
        res = run_vigil("demo", env=env, cwd=tmp_path, timeout=300)
        assert res.returncode == 0, f"run {run}:\n" + res.stdout + res.stderr
        out = res.stdout
        assert "John's profile is live: John Carter, 55, credit score 795" in out
        assert "King's Cross" in out
        assert "19,328 mph" in out
        assert "approve sent for appr-" in out
        assert out.count('"audience":"fraud_team"') == 1
        assert '"authority":"analyst"' in out
        assert out.count('"event_id":"block-') == 1
        assert out.count("outcome=block") == 1
        assert "(pseudonymized)" in out
        assert "screened 2, escalated 1, blocked 1" in out
        assert "demo finished" in out
        assert "Traceback" not in res.stderr
        blocked += re.findall(r'"event_id":"block-([^"]+)"', out)
        if run == 2:  # what it reset from run 1 it says, and it blocked a new transaction
            assert "card-john-debit was last seen" in out
    assert len(set(blocked)) == 2, blocked


def test_simulate_twice_gives_new_ids(kafka_bootstrap: str, tmp_path: Path, uid: str) -> None:
    """A rerun of a scenario is a new story for the agents (a replay would be deduplicated
    by its ids), unless --run-id asks for the same run again."""
    topics = {f"topic_{s.name.lower()}": f"{s.value}.{uid}" for s in Stream}
    env = env_with(kafka_bootstrap=kafka_bootstrap, data_dir=str(tmp_path), **topics)
    runs = []
    for args in ([], [], ["--run-id", "pinned1"]):
        res = run_vigil("simulate", "--scenario", "london-paris", "--scenario", "storm", *args,
                        env=env, cwd=tmp_path)  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr
        runs.append(re.findall(r'"(?:event_id|transaction_id|signal_id)":"([^"]+)"', res.stdout))
    assert all(len(r) == 2 * 2 + 2 * 2 for r in runs)  # two payments, a storm sent twice
    first, second, pinned = (set(r) for r in runs)
    assert first
    assert not first & second
    assert all("-pinned1" in i for i in pinned)
    txs = read_all(kafka_bootstrap, topics["topic_transactions"], expect=6)
    assert len({Transaction.model_validate_json(r.value).transaction_id for r in txs}) == 6
    bad = run_vigil("simulate", "--scenario", "storm", "--run-id", "no/slash", env=env,
                    cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 2
    assert "run id" in bad.stderr


@pytest.mark.slow
def test_bench_kafka_prints_ratios_against_raw_kafka_python(tmp_path: Path) -> None:
    env = env_with(data_dir=str(tmp_path))
    res = run_vigil("bench", "kafka", "--events", "400", "--rounds", "1", env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "baseline (raw kafka-python)" in res.stdout
    assert "runner keeps" in res.stdout
    assert "of raw consume throughput" in res.stdout


@pytest.mark.slow
def test_bench_sse_prints_ratios_and_the_goal(tmp_path: Path) -> None:
    env = env_with(data_dir=str(tmp_path))
    res = run_vigil(
        "bench", "sse", "--streams", "12", "--runs", "2", "--loads", "20@1",
        env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    for needle in ("in-process graph.astream", "API over SSE", "time per streamed token",
                   "new chats /s", "12 / 12", "the goal: misses"):  # fmt: skip
        assert needle in res.stdout, res.stdout
    bad = run_vigil("bench", "sse", "--loads", "fast", env=env, cwd=tmp_path)
    assert bad.returncode == 2
    assert "give PACE_MS@RAMP_S" in bad.stderr


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_bench_reliability_reduced_keeps_the_books(tmp_path: Path) -> None:
    """The load and fault suite in reduced form: a replica SIGKILLed, Redis restarted,
    1 -> 2 -> 1 replicas, a malformed burst, all during 20 s of traffic."""
    # no model, the rules decide (as in test_replicas): the books do not depend on a
    # model's words, and the local model's calls made the run minutes longer
    env = env_with(data_dir=str(tmp_path), llm=NO_MODEL["llm"], fraud_wait_for_model="false")
    res = run_vigil("bench", "reliability", "--seconds", "20", "--rate", "30",
                    env=env, cwd=tmp_path, timeout=540)  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    for fault in (
        "SIGKILL a replica",
        "restart Redis",
        "scale 1 -> 2",
        "malformed",
        "scale 2 -> 1",
    ):
        assert fault in res.stdout
    assert "every transaction decided exactly once" in res.stdout
    counts = dict(re.findall(r"│ ([^│]+?)\s+│ (\d+)\s+│", res.stdout))
    assert int(counts["transactions produced"]) == int(counts["with exactly one decision"]) > 300
    assert counts["malformed sent"] == counts["malformed in the DLQ"] == "30"
    assert counts["blocks applied twice"] == "0"
    assert counts["consumer lag at the end"] == "0"


@pytest.mark.slow
def test_bench_scale_prints_ratios_against_one_replica(tmp_path: Path) -> None:
    env = env_with(data_dir=str(tmp_path))
    res = run_vigil("bench", "scale", "--events", "3000", "--no-ray", "--rounds", "1",
                    env=env, cwd=tmp_path, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert "ratio to 1 replica" in res.stdout
    assert re.search(r"│ 1\s+│ process\s+│ [\d,]+\s+│ 1\.00", res.stdout), res.stdout
    assert re.search(r"│ 2\s+│ process\s+│ [\d,]+\s+│ \d\.\d\d", res.stdout), res.stdout


@pytest.mark.slow
def test_bench_checkpointer_prints_ratios_against_sqlite_and_memory(tmp_path: Path) -> None:
    env = env_with(data_dir=str(tmp_path))
    res = run_vigil(
        "bench", "checkpointer", "--threads", "2", "--turns", "3", "--rounds", "1",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    for line in ("RedisSaver", "SqliteSaver (file)", "InMemorySaver", "ratio to SQLite"):
        assert line in res.stdout
    assert "latest checkpoint only" in res.stdout
    assert "x SQLite" in res.stdout


@pytest.mark.slow
def test_seed_then_ingest_makes_john_and_the_policies_queryable(
    kafka_bootstrap: str, redis_url: str, uid: str, tmp_path: Path
) -> None:
    env = env_with(
        kafka_bootstrap=kafka_bootstrap,
        redis_url=redis_url,
        data_dir=str(tmp_path),
        redis_prefix=f"test:{uid}",
        kafka_group_prefix=f"test.{uid}",
        **{f"topic_{s.name.lower()}": f"{s.value}.{uid}" for s in Stream},
    )
    seeded = run_vigil("seed", "--customers", "5", env=env)
    assert seeded.returncode == 0, seeded.stderr
    docs = len(seed_documents())
    assert docs >= 7  # policies, FAQ, financing, manuals, emergency communications
    assert f"published 5 customer profiles and {docs} documents" in seeded.stdout
    ingested = run_vigil("ingest", "--timeout", "15", env=env, timeout=180)
    assert ingested.returncode == 0, ingested.stderr
    assert "profiles: 5 applied" in ingested.stdout
    assert f"documents: {docs} applied" in ingested.stdout

    import redis as redis_lib

    from ingestion.knowledge.embeddings import MiniLMEmbedder
    from ingestion.knowledge.lance import LanceRetriever
    from ingestion.profiles import RedisProfileStore

    client = redis_lib.Redis.from_url(redis_url)
    john = RedisProfileStore(client, prefix=f"test:{uid}").get("cust-john")
    assert john is not None
    assert (john.age, john.credit_score, john.home_ownership) == (55, 795, "own_outright")
    for key in client.scan_iter(match=f"test:{uid}:*"):
        client.delete(key)
    store = LanceRetriever(tmp_path / "vectors")
    q = "Can I spread the cost of a purchase with no interest?"
    hits = store.search(q, MiniLMEmbedder().embed_query(q), k=3)
    assert hits[0].doc_id == "offer-financing"


@pytest.mark.slow
def test_bench_freshness_prints_latencies_with_baselines(tmp_path: Path) -> None:
    env = env_with(data_dir=str(tmp_path))
    res = run_vigil(
        "bench", "freshness", "--profiles", "5", "--documents", "2", "--chunks", "300",
        env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    for needle in ("publish -> lookup", "raw Redis GET", "raw LanceDB query", "hybrid search"):
        assert needle in res.stdout


@pytest.mark.slow
def test_bench_fraud_prints_ratios_and_latencies(tmp_path: Path) -> None:
    env = env_with(data_dir=str(tmp_path))
    # one round: the rounds' medians and their own ratios are the same code for any count
    res = run_vigil("bench", "fraud", "--sizes", "500", "--rounds", "1", "--load-events", "400",
                    "--escalate-share", "0.05", "--model-s", "0.2", env=env, cwd=tmp_path,
                    timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert "500 events, round 1:" in res.stdout
    for needle in ("raw consume-produce", "screening latency at", "escalation path",
                   "escalating, model 0.2 s a call)"):  # fmt: skip
        assert needle in res.stdout
    # where each screening run's work went, and each round's own ratio (lines may wrap)
    said = " ".join(res.stdout.split())
    assert "CPU an event, median of 1: screening on its rules vigil" in said
    assert "features vs rules, the median of the rounds' own ratios:" in said
    assert said.count("of the rules' rate this round") == 1


def test_agents_run_names_the_agents_when_given_an_unknown_one(tmp_path: Path) -> None:
    res = run_vigil("agents", "run", "--agent", "fraud,nope", env=clean_env(), cwd=tmp_path)
    assert res.returncode == 2
    assert "no agent 'nope'" in res.stderr
    assert "maintenance" in res.stderr


def test_token_mints_what_the_api_accepts_and_config_hides_the_keys(tmp_path: Path) -> None:
    from api.auth import Authenticator

    secret = "s3cret-0123456789abcdef0123456789abcdef"
    env = env_with(data_dir=str(tmp_path), api_token_secret=secret,
                   api_keys='{"k-very-secret": "analyst:ana"}')  # fmt: skip
    minted = run_vigil("token", "--role", "customer", "--subject", "cust-john", env=env)
    assert minted.returncode == 0, minted.stderr
    who = Authenticator({}, secret).authenticate(minted.stdout.strip())
    assert (who.role, who.subject) == ("customer", "cust-john")
    bad = run_vigil("token", "--role", "king", "--subject", "x", env=env)
    assert bad.returncode == 2
    assert "role one of customer, analyst, admin" in bad.stderr
    unset = run_vigil("token", "--role", "admin", "--subject", "x", env=env_with())
    assert unset.returncode == 2
    assert "set VIGIL_API_TOKEN_SECRET" in unset.stderr
    shown = run_vigil("config", "--json", env=env)
    assert "k-very-secret" not in shown.stdout
    assert secret not in shown.stdout
    assert "analyst:ana" in shown.stdout
