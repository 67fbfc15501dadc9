"""The embedded stack: real Tansu and Valkey children that never outlive their parent."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from kafka import KafkaAdminClient
from pydantic import ValidationError

from ingestion.errors import KafkaUnavailableError
from tests.conftest import ROOT, base_settings, clean_env, wait_for
from vigil.errors import StackError
from vigil.runtime.embedded import free_port, pid_alive
from vigil.runtime.stack import Stack, discover, read_state, valkey_allocator, valkey_server
from vigil.settings import Settings


@pytest.mark.slow
def test_embedded_servers_die_when_their_parent_is_sigkilled(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.vigil.stack_proc", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=clean_env(),
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        pids = info["pids"]
        assert set(pids) == {"kafka", "redis"}
        assert all(pid_alive(p) for p in pids.values())
        assert redis.Redis.from_url(info["redis"]).ping()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        wait_for(lambda: not any(pid_alive(p) for p in pids.values()), 10, "children to die")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_stack_starts_both_servers_and_stops_them_cleanly(tmp_path: Path) -> None:
    stack = Stack(base_settings(data_dir=tmp_path, kafka_topic_partitions={"transactions": 5}))
    eff = stack.start()
    try:
        pids = [srv.pid for srv in stack.servers.values()]
        admin = KafkaAdminClient(bootstrap_servers=eff.kafka_bootstrap)
        described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics()}
        admin.close()
        assert described["transactions"] == 5
        assert described["alerts"] == 3
        assert described["transactions.dlq"] == 3
        assert eff.kafka_bootstrap
        assert eff.kafka_bootstrap.startswith("127.0.0.1:")
        assert eff.redis_url
        assert eff.redis_url.startswith("redis://127.0.0.1:")
        admin = KafkaAdminClient(bootstrap_servers=eff.kafka_bootstrap)
        assert set(eff.all_topics()) <= set(admin.list_topics())
        admin.close()
    finally:
        codes = stack.stop()
    assert codes == {"redis": 0, "kafka": 0}
    assert not any(pid_alive(p) for p in pids)


def test_valkey_keeps_data_across_restarts_in_the_data_folder(tmp_path: Path) -> None:
    settings = base_settings(data_dir=tmp_path)
    for round_ in range(2):
        stack = Stack(settings, create_topics=False)
        eff = stack.start()
        client = redis.Redis.from_url(eff.redis_url or "")
        try:
            if round_ == 0:
                client.set("vigil:test:persist", "kept")
            else:
                assert client.get("vigil:test:persist") == b"kept"
        finally:
            client.close()
            stack.stop()
    assert (tmp_path / "valkey" / "appendonlydir").is_dir()


def test_a_second_stack_on_the_same_data_folder_is_refused(tmp_path: Path) -> None:
    first = Stack(base_settings(data_dir=tmp_path), create_topics=False)
    first.start()
    try:
        with pytest.raises(StackError, match="another Vigil process"):
            Stack(base_settings(data_dir=tmp_path), create_topics=False).start()
    finally:
        first.stop()


def test_an_occupied_port_gives_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        settings = base_settings(data_dir=tmp_path, embedded_kafka_port=port)
        with pytest.raises(StackError) as info:
            Stack(settings).start()
    message = str(info.value)
    assert f"port {port} on 127.0.0.1 is already in use" in message
    assert "VIGIL_EMBEDDED_KAFKA_PORT=0" in message


def test_configured_servers_are_used_and_nothing_is_started(
    tmp_path: Path, kafka_bootstrap: str, redis_url: str
) -> None:
    stack = Stack(
        base_settings(data_dir=tmp_path, kafka_bootstrap=kafka_bootstrap, redis_url=redis_url)
    )
    eff = stack.start()
    try:
        assert stack.servers == {}
        assert (eff.kafka_bootstrap, eff.redis_url) == (kafka_bootstrap, redis_url)
    finally:
        stack.stop()


def test_an_unreachable_configured_kafka_is_named(tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    settings = base_settings(
        data_dir=tmp_path,
        kafka_bootstrap=dead,
        redis_url="redis://127.0.0.1:1/0",
        kafka_connect_timeout_s=0.5,
    )
    with pytest.raises(KafkaUnavailableError, match=f"cannot reach Kafka at {dead}"):
        Stack(settings).start()


def test_an_unreachable_configured_redis_is_named(tmp_path: Path, kafka_bootstrap: str) -> None:
    settings = base_settings(
        data_dir=tmp_path,
        kafka_bootstrap=kafka_bootstrap,
        redis_url=f"redis://user:pw@127.0.0.1:{free_port()}/0",
    )
    with pytest.raises(StackError, match="cannot reach Redis") as info:
        Stack(settings, create_topics=False).start()
    assert "pw@" not in str(info.value)


def test_other_commands_discover_a_running_stack(tmp_path: Path) -> None:
    settings = base_settings(data_dir=tmp_path)
    assert discover(settings).kafka_bootstrap is None
    stack = Stack(settings, create_topics=False)
    eff = stack.start()
    try:
        stack.write_state()
        found = discover(Settings(_env_file=None, data_dir=tmp_path))
        assert (found.kafka_bootstrap, found.redis_url) == (eff.kafka_bootstrap, eff.redis_url)
        state = read_state(tmp_path)
        assert state is not None
        assert state.pid == os.getpid()
    finally:
        stack.stop()
    assert read_state(tmp_path) is None
    assert discover(settings).kafka_bootstrap is None


def test_a_redis_only_stack_starts_no_broker(tmp_path: Path) -> None:
    stack = Stack(base_settings(data_dir=tmp_path), kafka=False)
    eff = stack.start()
    try:
        assert set(stack.servers) == {"redis"}
        assert eff.kafka_bootstrap is None
        assert redis.Redis.from_url(eff.redis_url or "").ping()
    finally:
        stack.stop()


def _mapped(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD is Linux's")
def test_the_embedded_valkey_runs_on_jemalloc_when_the_system_has_it(tmp_path: Path) -> None:
    found = valkey_allocator(base_settings())
    if found is None:
        pytest.skip("no jemalloc on this system (Debian: apt install libjemalloc2)")
    for choice, loaded in (("auto", True), ("libc", False), (str(found), True)):
        server = valkey_server(base_settings(valkey_malloc=choice), tmp_path, free_port())
        server.start(timeout=20)
        try:
            client = redis.Redis(host=server.host, port=server.port)
            client.set("k", "v" * 1000)  # it serves, allocating with the library
            assert client.get("k") == b"v" * 1000
            client.close()
            assert ("jemalloc" in _mapped(server.pid)) is loaded, choice
        finally:
            server.stop(timeout=10)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD is Linux's")
def test_a_valkey_binary_of_the_users_own_keeps_its_allocator(tmp_path: Path) -> None:
    own = base_settings(valkey_bin=tmp_path / "valkey-server")
    assert valkey_allocator(own) is None
    lib = tmp_path / "libmine.so"
    lib.write_bytes(b"")
    assert valkey_allocator(own.model_copy(update={"valkey_malloc": str(lib)})) == lib


def test_a_missing_allocator_library_is_named(tmp_path: Path) -> None:
    settings = base_settings(valkey_malloc=str(tmp_path / "libnothere.so"))
    with pytest.raises(StackError, match=r"libnothere\.so"):
        valkey_server(settings, tmp_path, free_port())


@given(st.text(max_size=300) | st.sampled_from(["/a:b", "/x\n", "lib.so", "../x", "auto "]))
@hypothesis_settings(max_examples=150, deadline=None)
def test_the_allocator_setting_takes_auto_libc_or_a_clean_absolute_path(value: str) -> None:
    clean = value.startswith("/") and not any(ord(c) < 32 or c == ":" for c in value)
    if value in ("auto", "libc") or clean:
        assert base_settings(valkey_malloc=value).valkey_malloc == value
    else:
        with pytest.raises(ValidationError, match="valkey_malloc"):
            base_settings(valkey_malloc=value)
