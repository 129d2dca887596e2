"""Shared fixtures: an app per test, and the real service under gunicorn on loopback per session."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.core.knowledge import KnowledgeBase
from service.rules_loader import load_knowledge_base

if TYPE_CHECKING:
    from .security_support import Trust

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "fhir_samples"
# The project's shared/ folder sits beside the clone (CI and every workplace machine); override with
# MAGNESIUM_CDS_SHARED for another layout.
SHARED = Path(os.environ.get("MAGNESIUM_CDS_SHARED", ROOT.parent / "shared"))
if not (SHARED / "data" / "synthea").is_dir():
    raise pytest.UsageError(f"shared data not found at {SHARED}; set MAGNESIUM_CDS_SHARED to its folder")
# The moment every golden sample is evaluated at (each expected.json repeats it).
SAMPLES_NOW = "2026-11-15T00:00:00Z"
SERVICE_URL = "/cds-services/magnesium-leg-symptoms"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def sample_cases() -> list[Path]:
    return sorted(p for p in SAMPLES.iterdir() if (p / "expected.json").exists())


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge_base()


@pytest.fixture
def app() -> Flask:
    return create_app({"FIXED_NOW": SAMPLES_NOW, "AUTH_MODE": "off"})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="module")
def trust(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trust]:
    """Trusted issuers (keys, a JWK Set server) for the modules that test authentication."""
    from .security_support import write_trust  # noqa: PLC0415 (security_support imports this module)

    t = write_trust(tmp_path_factory.mktemp("trust"))
    yield t
    t.jwks.stop()


@pytest.fixture(scope="module")
def secured(trust: Trust) -> Iterator[LiveService]:
    """The service under gunicorn, authenticating CDS clients with `trust`."""
    from .security_support import secured_env  # noqa: PLC0415

    service = LiveService(secured_env(trust), workers=1)  # one worker: the in-process jti store sees all
    try:
        service.wait_ready()
        yield service
    finally:
        service.stop()


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports: the sockets are held together, so the kernel cannot hand one out twice."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def gunicorn_command(bind: str, workers: int) -> list[str]:
    """The Dockerfile's CMD with a loopback bind: the tests run exactly what the image runs."""
    cmd_line = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD "))
    cmd: list[str] = json.loads(cmd_line.removeprefix("CMD "))
    # Command-line settings override gunicorn.conf.py's: same configuration, loopback bind.
    return [*cmd[:-1], "--bind", bind, "--workers", str(workers), cmd[-1]]


class LiveService:
    """A gunicorn process serving `service:create_app()` on 127.0.0.1."""

    def __init__(self, env: dict[str, str], workers: int = 2) -> None:
        self.port, metrics_port = free_ports(2)
        self.url = f"http://127.0.0.1:{self.port}"
        # Prometheus metrics: the master's own listener, never the public port (gunicorn.conf.py).
        self.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        env = {"METRICS_PORT": self.metrics_url.rsplit(":", 1)[1].split("/")[0], **env}
        self.log = ROOT / ".pytest_cache" / f"gunicorn-{self.port}.log"
        self.log.parent.mkdir(exist_ok=True)
        cmd = [sys.executable, "-m", *gunicorn_command(f"127.0.0.1:{self.port}", workers)]
        env = {k: v.replace("{url}", self.url) for k, v in env.items()}
        self._out = self.log.open("wb")
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env={**os.environ, **env}, stdout=self._out, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log.read_text()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or a worker still booting on a busy machine
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not become ready:\n{self.log.read_text()}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._out.close()


# The live service may call the FHIR test server over http on loopback (never in production).
LIVE_ENV = {
    "CDS_FIXED_NOW": SAMPLES_NOW,
    "CDS_FHIR_ALLOW_HTTP": "true",
    "CDS_FHIR_TIMEOUT_SECONDS": "2.0",
    "CDS_AUTH_MODE": "off",
}


@pytest.fixture(scope="session")
def live() -> Iterator[LiveService]:
    service = LiveService(LIVE_ENV)
    try:
        service.wait_ready()
        yield service
    finally:
        service.stop()


def topics(cards: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(c["source"]["topic"]["code"], c["indicator"]) for c in cards]


class FhirTestServer:
    """tests/fhir_server.py in its own process on 127.0.0.1, serving fhir_samples and the Synthea records
    (or the files and folders given as `data`)."""

    def __init__(self, data: Sequence[Path] = ()) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/fhir"
        self.control_url = f"http://127.0.0.1:{self.port}/__control"
        self.requests_url = f"http://127.0.0.1:{self.port}/__requests"
        cmd = [
            sys.executable,
            str(ROOT / "tests" / "fhir_server.py"),
            "--port",
            str(self.port),
            *(arg for path in (data or (SAMPLES, SHARED / "data" / "synthea")) for arg in ("--data", str(path))),
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base}/metadata", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("FHIR test server did not start")

    def control(self, **behaviour: Any) -> None:
        requests.put(self.control_url, json=behaviour, timeout=5).raise_for_status()

    def seen(self) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = requests.get(self.requests_url, timeout=5).json()
        return seen

    def reset(self) -> None:
        requests.delete(self.control_url, timeout=5).raise_for_status()
        requests.delete(self.requests_url, timeout=5).raise_for_status()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def fhir_server_process() -> Iterator[FhirTestServer]:
    server = FhirTestServer()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def fhir_server(fhir_server_process: FhirTestServer) -> Iterator[FhirTestServer]:
    fhir_server_process.reset()
    yield fhir_server_process
    fhir_server_process.reset()
