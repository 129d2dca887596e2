"""Worker model comparison: today's sync workers beside the gevent workers gunicorn.conf.py runs now.

    .venv/bin/python -m bench.workers            # about 2 minutes, writes bench/WORKERS.md
    .venv/bin/python -m bench.workers --smoke    # a few seconds per scenario, for CI: it must work

Both models run gunicorn.conf.py unchanged except GUNICORN_WORKER_CLASS, with the same worker count.
Scenarios, each on a fresh server:

1. CPU-bound throughput: wrk at concurrency 4 on patient-view with the typical prefetch (as bench/), both
   servers up at once and wrk alternating between them (5 rounds, the median round of each is reported).
2. Head-of-line blocking: the same load while 4 chart-opens keep waiting on a FHIR server that answers
   after 5 s (CDS_FHIR_TIMEOUT_SECONDS=2: each of them gets its 412 after 2 s, and is sent again).
3. Slowloris: 16 sockets trickling request headers (one byte every 0.5 s); sequential /healthz and
   hook calls, the slowest answer is reported (a request that got no answer within 5 s counts as 5 s).
4. FHIR deadline: a FHIR server dribbling its response headers at 1 byte/s; time until the 412.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bench.__main__ import ROOT, Load, Server, machine, median_round, typical_prefetch, wrk
from tests.misbehaving_fhir import Process

SERVICE_PATH = "/cds-services/magnesium-leg-symptoms"
MODELS = ("sync", "gevent")


def post(url: str, body: bytes, timeout: float = 30) -> tuple[int, float]:
    started = time.monotonic()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError:
        status = 0
    return status, time.monotonic() - started


def fallback_body(fhir_base: str) -> bytes:
    body = json.loads((ROOT / "fhir_samples" / "mg-low" / "patient-view.json").read_text(encoding="utf-8"))
    del body["prefetch"]
    body["fhirServer"] = fhir_base
    return json.dumps(body).encode()


def server(model: str, workdir: Path) -> Server:
    os.environ.update(
        {"GUNICORN_WORKER_CLASS": model, "CDS_FHIR_ALLOW_HTTP": "true", "CDS_FHIR_TIMEOUT_SECONDS": "2.0"}
    )
    # No --worker-class: gunicorn.conf.py reads GUNICORN_WORKER_CLASS (set above) and maps "gevent" to the
    # deployed worker, service.gunicorn_worker.DeadlineGeventWorker.
    srv = Server("service:create_app()", workdir, f"workers-{model}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # every worker booted: a few answers in a row
        if all(get(f"{srv.url}/healthz") < 1.0 for _ in range(4)):
            return srv
        time.sleep(0.2)
    raise RuntimeError(f"{model} server did not become ready")


def throughput(workdir: Path, body: Path, seconds: float, rounds: int) -> dict[str, Load]:
    """Both models up at once, wrk alternating between them; the median round (by throughput) of each."""
    servers = {model: server(model, workdir) for model in MODELS}
    try:
        measured: dict[str, list[Load]] = {model: [] for model in MODELS}
        for srv in servers.values():
            wrk(f"{srv.url}{SERVICE_PATH}", body, 1)  # warm-up
        for _ in range(rounds):
            for model, srv in servers.items():
                measured[model].append(wrk(f"{srv.url}{SERVICE_PATH}", body, seconds))
        return {model: median_round(loads) for model, loads in measured.items()}
    finally:
        for srv in servers.values():
            srv.stop()


def head_of_line(model: str, workdir: Path, body: Path, seconds: float, fhir: Process) -> Load:
    fhir.behave(mode="slow", delay=5)
    srv = server(model, workdir)
    stop = threading.Event()
    slow = fallback_body(fhir.base)

    def chart_open() -> None:
        while not stop.is_set():
            post(f"{srv.url}{SERVICE_PATH}", slow)

    waiting = [threading.Thread(target=chart_open) for _ in range(4)]
    try:
        wrk(f"{srv.url}{SERVICE_PATH}", body, 1)  # warm-up
        for t in waiting:
            t.start()
        time.sleep(0.5)
        return wrk(f"{srv.url}{SERVICE_PATH}", body, seconds)
    finally:
        stop.set()
        for t in waiting:
            t.join()
        srv.stop()


def slowloris(model: str, workdir: Path, body: Path, rounds: int) -> dict[str, float]:
    srv = server(model, workdir)
    socks: list[socket.socket] = []
    stop = threading.Event()
    try:
        post(f"{srv.url}{SERVICE_PATH}", body.read_bytes())  # warm-up
        for _ in range(16):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            socks.append(s)

        def trickle() -> None:
            while not stop.wait(0.5):
                for s in socks:
                    with contextlib.suppress(OSError):
                        s.sendall(b"a")

        dripper = threading.Thread(target=trickle)
        dripper.start()
        times = []
        for _ in range(rounds):
            times.append(min(5.0, get(f"{srv.url}/healthz")))
            status, elapsed = post(f"{srv.url}{SERVICE_PATH}", body.read_bytes(), timeout=5)
            times.append(elapsed if status == 200 else 5.0)
        stop.set()
        dripper.join()
        return {"median_ms": statistics.median(times) * 1000, "max_ms": max(times) * 1000}
    finally:
        stop.set()
        for s in socks:
            s.close()
        srv.stop()


def get(url: str) -> float:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            response.read()
    except OSError:
        return 5.0
    return time.monotonic() - started


def deadline(model: str, workdir: Path, fhir: Process) -> float:
    fhir.behave(mode="dribble-headers", rate=1)
    srv = server(model, workdir)
    try:
        status, elapsed = post(f"{srv.url}{SERVICE_PATH}", fallback_body(fhir.base), timeout=60)
        return elapsed if status == 412 else float("nan")
    finally:
        srv.stop()


def report(results: dict[str, dict[str, Any]], smoke: bool) -> str:
    lines = [
        "# Worker models: sync (before) and gevent (gunicorn.conf.py now)",
        "",
        "Generated by `python -m bench.workers`" + (" --smoke (numbers not meaningful)" if smoke else "") + ".",
        *machine(),
        "",
        "| scenario | sync | gevent |",
        "|---|---|---|",
    ]

    def row(name: str, fmt: Any) -> None:
        lines.append(f"| {name} | {fmt(results['sync'])} | {fmt(results['gevent'])} |")

    row(
        "CPU-bound throughput, req/s (wrk -c4, typical prefetch; median of alternating rounds)",
        lambda r: f"{r['cpu'].rps:,.0f}",
    )
    row("CPU-bound p50 / p99, ms", lambda r: f"{r['cpu'].p50_ms:.1f} / {r['cpu'].p99_ms:.1f}")
    row("while 4 chart-opens wait on a 5 s FHIR server: req/s", lambda r: f"{r['hol'].rps:,.0f}")
    row("... p50 / p99, ms", lambda r: f"{r['hol'].p50_ms:.1f} / {r['hol'].p99_ms:.1f}")
    row(
        "16 slowloris sockets: median / slowest answer, ms",
        lambda r: f"{r['loris']['median_ms']:.0f} / {r['loris']['max_ms']:.0f}",
    )
    row("FHIR headers dribbled at 1 byte/s: 412 after, s (budget 2 s)", lambda r: f"{r['deadline']:.2f}")
    lines += [
        "",
        "sync workers: a request waiting on the FHIR server or a slow client holds a whole worker (one per",
        "CPU), so everything else queues behind it (the deadline itself holds: the reads run in abandoned threads).",
        "gevent: waits park a greenlet; the FHIR deadline kills the fetching greenlets at the budget.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "WORKERS.md")
    args = parser.parse_args()
    seconds = 1.0 if args.smoke else 10.0
    rounds = 3 if args.smoke else 10
    os.environ.update({"CDS_AUTH_MODE": "off"})
    results: dict[str, dict[str, Any]] = {}
    fhir = Process()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
            workdir = Path(tmp)
            body = typical_prefetch(workdir)
            cpu = throughput(workdir, body, seconds, 1 if args.smoke else 5)
            for model in MODELS:
                results[model] = {
                    "cpu": cpu[model],
                    "hol": head_of_line(model, workdir, body, seconds, fhir),
                    "loris": slowloris(model, workdir, body, rounds),
                    "deadline": deadline(model, workdir, fhir),
                }
    finally:
        fhir.stop()
    text = report(results, args.smoke)
    args.output.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
