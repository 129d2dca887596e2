"""Auth and replay-store reliability (issue 12 §6, §7) against secured gunicorn instances and real Redis."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from typing import Any

import pytest
import redis
import requests

from service.auth import MemoryReplayStore

from .conftest import LiveService, free_port
from .security_support import EHR, Trust, claims, mint, secured_env
from .test_auth import SERVICE, call, good

pytestmark = pytest.mark.api


def test_absurd_lifetimes_and_unlisted_jku_are_a_bare_401(secured: LiveService, trust: Trust) -> None:
    aud, now = f"{secured.url}{SERVICE}", time.time()
    tokens = {
        "exp 1e308": mint(trust.rsa, claims(EHR, aud, now, exp=1e308)),
        "exp 100 years ahead": mint(trust.rsa, claims(EHR, aud, now, exp=int(now) + 100 * 365 * 86400)),
        "exp - iat of an hour": mint(trust.rsa, claims(EHR, aud, now, iat=int(now) - 3000, exp=int(now) + 600)),
        "exp NaN": mint(trust.rsa, claims(EHR, aud, now, exp=float("nan"))),
        "iat -1e308": mint(trust.rsa, claims(EHR, aud, now, iat=-1e308)),
        "nbf as a string": mint(trust.rsa, claims(EHR, aud, now, nbf="soon")),
        "jku on an out-of-band issuer": mint(trust.rsa, claims(EHR, aud, now), jku="https://evil.example/jwks.json"),
    }
    statuses = {name: call(secured, token).status_code for name, token in tokens.items()}
    assert statuses == dict.fromkeys(tokens, 401)
    # A token of exactly the allowed lifetime still works.
    assert call(secured, good(secured, trust, exp=int(now) + 300)).status_code == 200


def test_auth_failures_look_the_same_from_outside(secured: LiveService, trust: Trust) -> None:
    aud, now = f"{secured.url}{SERVICE}", time.time()
    replayed = good(secured, trust)
    call(secured, replayed)
    tokens = [
        None,
        "not-a-jwt",
        mint(trust.rsa, claims("https://evil.example", aud, now)),
        mint(trust.rsa, claims(EHR, aud, now, exp=int(now) - 120, iat=int(now) - 400)),
        replayed,
    ]
    seen = set()
    for token in tokens:
        r = call(secured, token)
        headers = {k: v for k, v in r.headers.items() if k.lower() not in ("x-request-id", "date", "content-length")}
        seen.add((r.status_code, r.content, tuple(sorted(headers.items()))))
    assert len(seen) == 1
    public = requests.get(f"{secured.url}/metrics", timeout=5)
    assert public.status_code == 404 and "authFailure" not in public.text and "reason" not in public.text


def test_memory_replay_store_drops_expired_jtis_as_it_goes() -> None:
    clock = [1000.0]
    store = MemoryReplayStore(clock=lambda: clock[0])
    for i in range(50_000):
        assert store.first_use(f"jti-{i}", 300)
        clock[0] += 0.1  # 10 tokens a second, each kept for 300 s
        if i % 1000 == 0:
            assert not store.first_use(f"jti-{i}", 300)  # a replay inside its window is refused
    assert len(store) <= 3001  # only the last 300 s of jtis are kept, not all 50,000
    assert len(store._order) <= 3002


# ---- Redis outages -------------------------------------------------------------------------------


class HungRedis:
    """Accepts connections and never answers (a hung Redis), on raw sockets."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.clients: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.clients.append(conn)

    def stop(self) -> None:
        self.sock.close()
        for c in self.clients:
            c.close()


def start_redis(port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (make system-deps)"
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_timeout=1)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if client.ping():
                return proc
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def timed_call(service: LiveService, trust: Trust) -> tuple[requests.Response, float]:
    started = time.monotonic()
    r = call(service, good(service, trust))
    return r, time.monotonic() - started


def assert_replay_store_503(r: requests.Response, elapsed: float) -> None:
    assert r.status_code == 503, r.text
    assert elapsed < 1.0, f"answered after {elapsed:.2f} s"
    outcome: dict[str, Any] = r.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "replay store (Redis)" in outcome["issue"][0]["diagnostics"]
    assert outcome["issue"][0]["code"] == "transient"


def test_unreachable_redis_is_a_fast_503_logged_once_and_recovers_without_restart(trust: Trust) -> None:
    port = free_port()
    service = LiveService(secured_env(trust, CDS_REDIS_URL=f"redis://127.0.0.1:{port}/0"), workers=1)
    proc = None
    try:
        service.wait_ready()
        offset = service.log.stat().st_size
        times = []
        for _ in range(20):
            r, elapsed = timed_call(service, trust)
            assert_replay_store_503(r, elapsed)
            times.append(elapsed)
        time.sleep(0.3)
        log = service.log.read_bytes()[offset:].decode()
        assert log.count("replay store (Redis) unavailable") == 1  # rate-limited: one line, not 20
        assert "Traceback" not in log
        print(f"unreachable Redis: 503 in at most {max(times) * 1000:.0f} ms")
        proc = start_redis(port)  # Redis comes back: no restart of the service
        deadline = time.monotonic() + 5
        while (r := call(service, good(service, trust))).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert r.status_code == 200
        token = good(service, trust)
        assert call(service, token).status_code == 200
        assert call(service, token).status_code == 401  # and replays are refused again
    finally:
        service.stop()
        if proc:
            proc.terminate()
            proc.wait(timeout=10)


def test_hung_redis_is_a_503_within_a_second(trust: Trust) -> None:
    hung = HungRedis()
    service = LiveService(secured_env(trust, CDS_REDIS_URL=f"redis://127.0.0.1:{hung.port}/0"), workers=1)
    try:
        service.wait_ready()
        worst = 0.0
        for _ in range(5):
            r, elapsed = timed_call(service, trust)
            assert_replay_store_503(r, elapsed)
            worst = max(worst, elapsed)
        print(f"hung Redis: 503 in at most {worst * 1000:.0f} ms")
        assert requests.get(f"{service.url}/readyz", timeout=5).status_code == 503
    finally:
        service.stop()
        hung.stop()


def test_a_dribbling_jwk_set_server_cannot_hold_a_request(trust: Trust) -> None:
    """The JWK Set fetch has a wall-clock deadline (2 s), not only a per-read timeout."""
    from .test_reliability import BadFhirServer  # noqa: PLC0415 (the misbehaving server process)

    bad = BadFhirServer()
    try:
        bad.behave(mode="dribble-headers", rate=2)
        issuers = json.loads(trust.file.read_text(encoding="utf-8"))
        slow_iss = "https://slow-keys.example.org"
        issuers["issuers"].append({"iss": slow_iss, "jku": [f"{bad.base}/jwks.json"]})
        path = trust.file.parent / "issuers-with-slow-keys.json"  # beside the jwks_file it names
        path.write_text(json.dumps(issuers), encoding="utf-8")
        service = LiveService({**secured_env(trust), "CDS_TRUSTED_ISSUERS_FILE": str(path)}, workers=1)
        try:
            service.wait_ready()
            token = mint(trust.rotating_old, claims(slow_iss, f"{service.url}{SERVICE}", time.time()))
            started = time.monotonic()
            assert call(service, token).status_code == 401
            elapsed = time.monotonic() - started
            print(f"dribbling JWK Set server: 401 after {elapsed:.2f} s")
            assert elapsed < 3.0
        finally:
            service.stop()
    finally:
        bad.stop()
