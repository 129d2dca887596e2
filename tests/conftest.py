"""Shared fixtures: an app per test, and the real service under gunicorn on loopback per session."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.core.knowledge import KnowledgeBase
from service.rules_loader import load_knowledge_base

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
    return create_app({"FIXED_NOW": SAMPLES_NOW})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def gunicorn_command(bind: str, workers: int) -> list[str]:
    """The Dockerfile's CMD with a loopback bind: the tests run exactly what the image runs."""
    cmd_line = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD "))
    cmd: list[str] = json.loads(cmd_line.removeprefix("CMD "))
    cmd[cmd.index("--bind") + 1] = bind
    cmd[cmd.index("--workers") + 1] = str(workers)
    return cmd


class LiveService:
    """A gunicorn process serving `service:create_app()` on 127.0.0.1."""

    def __init__(self, env: dict[str, str], workers: int = 2) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = ROOT / ".pytest_cache" / f"gunicorn-{self.port}.log"
        self.log.parent.mkdir(exist_ok=True)
        cmd = [sys.executable, "-m", *gunicorn_command(f"127.0.0.1:{self.port}", workers)]
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
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not become ready:\n{self.log.read_text()}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._out.close()


@pytest.fixture(scope="session")
def live() -> Iterator[LiveService]:
    service = LiveService({"CDS_FIXED_NOW": SAMPLES_NOW})
    try:
        service.wait_ready()
        yield service
    finally:
        service.stop()


def topics(cards: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(c["source"]["topic"]["code"], c["indicator"]) for c in cards]
