"""Benchmarks against floors measured in the same run. One command:

    .venv/bin/python -m bench            # full run (about 6 minutes), writes bench/RESULTS.md
    .venv/bin/python -m bench --smoke    # a few seconds, for CI: it must work, numbers are not judged

1. In-process: the core (extract → engine → cards) on each shared/data/synthea record and on a typical
   prefetch (~30 resources), against the floor = orjson parse of the same bytes (median, p95, ratio).
   The strict request parser the service uses is reported too.
2. HTTP under gunicorn (gunicorn.conf.py) on loopback with wrk at concurrency 4: patient-view with the
   typical prefetch, /evaluate with the largest Synthea record, order-sign; against a floor endpoint under
   the same gunicorn configuration that only parses the body (bench/floor_app.py). Service and floor run
   the same worker class: the deployed one (gevent) and, for comparison, `--worker-class sync` too.
3. Memory: RSS of each worker after warm-up and after 50,000 requests (worker recycling off).
4. Where the time goes: the stage table of bench.profile (in-process, patient-view, typical prefetch).

    .venv/bin/python -m bench --worker-class gevent --worker-class sync   # both models, gevent judged
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from importlib import metadata, util
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fhir_samples.make_requests import hook_request  # noqa: E402
from service.core.fhirdata import Extractor, entries_from_bundle  # noqa: E402
from service.core.pipeline import run  # noqa: E402
from service.core.prefetch import split_prefetch  # noqa: E402
from service.jsonio import parse_json  # noqa: E402
from service.rules_loader import load_knowledge_base  # noqa: E402
from service.runtime import settle_worker  # noqa: E402

SHARED = Path(os.environ.get("MAGNESIUM_CDS_SHARED", ROOT.parent / "shared"))
SYNTHEA = SHARED / "data" / "synthea"
NOW = "2026-11-15T00:00:00Z"
CONCURRENCY = 4
# Each HTTP measurement is repeated, service and floor alternating, and the median round (by throughput) is
# reported: on a shared 2-core machine one round can be disturbed by neighbours.
ROUNDS = 3
# Issue 13: patient-view (typical prefetch) at >= 55% of the floor's throughput with p99 <= 2x the floor's;
# every full Synthea record <= 2x the orjson floor in-process; RSS per worker flat and under 150 MB.
TARGETS = {"inprocess_ratio": 2.0, "typical_share": 0.55, "typical_p99_vs_floor": 2.0, "rss_mb": 150.0}
# The gunicorn configuration of service and floor (--config: to try another one against the same floor).
GUNICORN_CONFIG = ROOT / "gunicorn.conf.py"
# The worker class gunicorn.conf.py deploys (the reliability work chose gevent); sync without gevent.
DEFAULT_WORKER_CLASS = "gevent" if util.find_spec("gevent") is not None else "sync"


# ---- measurements -----------------------------------------------------------------------------------


@dataclass
class Timing:
    median_ms: float
    p95_ms: float


def timed(fn: Callable[[], Any], iterations: int) -> Timing:
    fn()  # warm-up
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return Timing(statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))])


def typical_prefetch(folder: Path) -> Path:
    """A typical patient-view request: Dirk_Kuhlman's record as prefetch, with his 8 latest lab results and
    3 latest procedures (~35 resources)."""
    (source,) = SYNTHEA.glob("Dirk_Kuhlman_*.json")
    bundle = json.loads(source.read_text(encoding="utf-8"))
    for entry in bundle["entry"]:  # as a FHIR server would have stored the transaction
        entry["resource"] = json.loads(
            json.dumps(entry["resource"]).replace(
                '"urn:uuid:948e608d-e408-4788-8cf2-8157c49c2940"', '"Patient/948e608d-e408-4788-8cf2-8157c49c2940"'
            )
        )
    request = hook_request("bench-typical", bundle, {})
    observations = request["prefetch"]["observations"]
    observations["entry"] = sorted(
        observations["entry"], key=lambda e: e["resource"].get("effectiveDateTime", ""), reverse=True
    )[:8]
    observations["total"] = len(observations["entry"])
    procedures = request["prefetch"].get("procedures") or {}
    if procedures.get("entry"):
        procedures["entry"] = sorted(
            procedures["entry"],
            key=lambda e: str(e["resource"].get("performedPeriod", {}).get("start", "")),
            reverse=True,
        )[:3]
        procedures["total"] = len(procedures["entry"])
    path = folder / "typical-prefetch.json"
    path.write_text(json.dumps(request), encoding="utf-8")
    return path


def resources_in(request: dict[str, Any]) -> int:
    return sum(
        len(v.get("entry", [])) if v and v.get("resourceType") == "Bundle" else 1
        for v in request["prefetch"].values()
        if v
    )


def inprocess(inputs: list[tuple[str, Path]], iterations: int) -> list[dict[str, Any]]:
    kb = load_knowledge_base()
    extractor = Extractor(kb)
    gc.collect()
    settle_worker()  # as gunicorn.conf.py does in each worker (service/runtime.py)
    service = next(s for s in kb.services if s.hook == "patient-view")
    now = datetime.fromisoformat(NOW.replace("Z", "+00:00"))
    ids = (str(i) for i in itertools.count())
    rows = []
    for name, path in inputs:
        data = path.read_bytes()
        doc = orjson.loads(data)
        if doc.get("resourceType") == "Bundle":
            entries = entries_from_bundle(doc)
            size = len(entries)
        else:  # a hook request: its prefetch values as entries, as the service reads them
            entries = list(split_prefetch(service, doc["prefetch"]).entries)
            size = resources_in(doc)

        def core(entries: Any = entries) -> Any:
            return run(entries, None, kb=kb, extractor=extractor, now=now, new_uuid=lambda: next(ids))

        floor = timed(partial(orjson.loads, data), iterations)
        strict = timed(partial(parse_json, data), iterations)
        evaluated = timed(core, iterations)
        rows.append(
            {
                "name": name,
                "resources": size,
                "bytes": len(data),
                "floor": floor,
                "strict": strict,
                "core": evaluated,
                "ratio": evaluated.median_ms / floor.median_ms,
            }
        )
    return rows


class Server:
    """gunicorn with gunicorn.conf.py on a free loopback port (worker recycling off to watch memory)."""

    def __init__(self, app: str, workdir: Path, name: str, worker_class: str | None = None) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "CDS_AUTH_MODE": "off",
            "CDS_FIXED_NOW": NOW,
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / f"metrics-{name}"),
        }
        if worker_class is not None:  # else the configuration's (GUNICORN_WORKER_CLASS, default gevent)
            env["GUNICORN_WORKER_CLASS"] = worker_class
        self.log = (workdir / f"{name}.log").open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                str(GUNICORN_CONFIG),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--max-requests",
                "0",
                # The worker class comes from gunicorn.conf.py via GUNICORN_WORKER_CLASS ("gevent" = the deployed
                # DeadlineGeventWorker); a --worker-class flag would override it with gunicorn's plain one.
                "--access-logfile",
                "/dev/null",
                app,
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        time.sleep(1.0)  # let every worker boot

    def workers(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True, check=False)
        return sorted(int(p) for p in out.stdout.split())

    def cpu_seconds(self) -> list[float]:
        """User + system CPU time of each worker so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        times = []
        for pid in self.workers():
            fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
            times.append((int(fields[11]) + int(fields[12])) / ticks)
        return times

    def load(self, path: str, body: Path, seconds: float) -> Load:
        """One wrk round, with the workers' CPU time per request and how the requests were shared out."""
        before = self.cpu_seconds()
        load = wrk(f"{self.url}{path}", body, seconds)
        spent = [a - b for a, b in zip(self.cpu_seconds(), before, strict=True)]
        load.cpu_ms = sum(spent) * 1000 / max(1, load.requests)
        load.busiest_worker = max(spent) / max(1e-9, sum(spent))
        return load

    def rss_mb(self) -> list[float]:
        sizes = []
        for pid in self.workers():
            status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
            sizes.append(int(re.search(r"VmRSS:\s+(\d+) kB", status)[1]) / 1024)  # type: ignore[index]
        return sizes

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    cpu_ms: float = 0.0  # worker CPU (user + system) per request: robust to neighbours on a shared machine
    busiest_worker: float = 0.0  # share of the round's worker CPU spent by the busiest worker


def wrk(url: str, body: Path, seconds: float, connections: int = CONCURRENCY) -> Load:
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(ROOT / "bench" / "post.lua"),
            url,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "BODY_FILE": str(body)},
        check=True,
        timeout=seconds + 60,
    ).stdout

    def latency(pct: str) -> float:
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Load(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),  # type: ignore[index]
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        requests=int(re.search(r"(\d+) requests in", out)[1]),  # type: ignore[index]
        errors=int(errors[1]) if errors else 0,
    )


def median_round(rounds: list[Load]) -> Load:
    return sorted(rounds, key=lambda load: load.rps)[len(rounds) // 2]


def http(
    inputs: dict[str, tuple[str, Path]],
    workdir: Path,
    seconds: float,
    memory_requests: int,
    rounds: int,
    *,
    worker_class: str,
) -> dict[str, Any]:
    service = Server("service:create_app()", workdir, f"service-{worker_class}", worker_class)
    floor = Server("bench.floor_app:create_app()", workdir, f"floor-{worker_class}", worker_class)
    results: dict[str, Any] = {
        "workers": len(service.workers()),
        "worker_class": worker_class,
        "rounds": rounds,
        "scenarios": [],
        "load_before": os.getloadavg(),
    }
    try:
        for name, (path, body) in inputs.items():
            check = urllib.request.Request(
                f"{service.url}{path}", data=body.read_bytes(), headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(check, timeout=30) as response:
                cards = [c["source"]["topic"]["code"] for c in json.load(response)["cards"]]
            wrk(f"{service.url}{path}", body, 1)  # warm-up
            wrk(f"{floor.url}{path}", body, 1)
            service_rounds, floor_rounds = [], []
            for _ in range(rounds):
                service_rounds.append(service.load(path, body, seconds))
                floor_rounds.append(floor.load(path, body, seconds))
            measured, base = median_round(service_rounds), median_round(floor_rounds)
            results["scenarios"].append(
                {
                    "name": name,
                    "cards": cards,
                    "service": measured,
                    "floor": base,
                    "share": measured.rps / base.rps,
                    "p99_ratio": measured.p99_ms / base.p99_ms,
                    "cpu_ms": statistics.median(r.cpu_ms for r in service_rounds),
                    "floor_cpu_ms": statistics.median(r.cpu_ms for r in floor_rounds),
                    "busiest": max(r.busiest_worker for r in service_rounds + floor_rounds),
                    "service_rounds": [r.rps for r in service_rounds],
                    "floor_rounds": [r.rps for r in floor_rounds],
                    "shares": [a.rps / b.rps for a, b in zip(service_rounds, floor_rounds, strict=True)],
                }
            )
        results["load_after"] = os.getloadavg()
        if memory_requests:
            typical_path, typical_body = inputs["patient-view, typical prefetch"]
            results["rss_warm"] = service.rss_mb()
            sent = 0
            while sent < memory_requests:
                sent += wrk(f"{service.url}{typical_path}", typical_body, min(20.0, max(1.0, seconds))).requests
            results["memory_requests"] = sent
            results["rss_after"] = service.rss_mb()
    finally:
        service.stop()
        floor.stop()
    return results


# ---- report -----------------------------------------------------------------------------------------


def machine() -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[1]) / 1024 / 1024  # type: ignore[index]
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False).stdout
    return [
        f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {cpu}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; fhir.resources {metadata.version('fhir.resources')}, "
        f"gunicorn {metadata.version('gunicorn')}, Flask {metadata.version('flask')}; "
        f"{(wrk_version.splitlines() or ['wrk'])[0].split(' Copyright')[0]}",
        "- Load generator and servers share the machine's cores (loopback).",
    ]


def mark(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def _spread(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.0f}–{high:.0f} (±{(high - low) / (high + low):.0%})" if len(values) > 1 else f"{low:.0f}"


def http_section(web: dict[str, Any], judged: bool) -> list[str]:
    heading = (
        f"## HTTP under gunicorn ({web['workers']} {web['worker_class']} workers, gunicorn.conf.py), "
        f"wrk at concurrency {CONCURRENCY}"
    )
    if not judged:
        heading = f"## HTTP, {web['worker_class']} workers for comparison ({web['workers']} workers, same floor config)"
    lines = [
        heading,
        "",
        f"Each row is the median of {web['rounds']} rounds (by throughput), service and floor alternating, both "
        f"with `--worker-class {web['worker_class']}`.",
        "",
        "| scenario | cards | service req/s | p50 / p99 (ms) | floor req/s | floor p50 / p99 (ms) "
        "| throughput / floor | p99 / floor p99 | worker CPU per request, service / floor (ms) | CPU share |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in web["scenarios"]:
        svc, base = s["service"], s["floor"]
        errors = f" ({svc.errors} errors)" if svc.errors else ""
        lines.append(
            f"| {s['name']} | {', '.join(s['cards']) or 'none'} | {svc.rps:.0f}{errors} | {svc.p50_ms:.2f} / "
            f"{svc.p99_ms:.2f} | {base.rps:.0f} | {base.p50_ms:.2f} / {base.p99_ms:.2f} | {s['share']:.0%} "
            f"| {s['p99_ratio']:.2f}× | {s['cpu_ms']:.2f} / {s['floor_cpu_ms']:.2f} "
            f"| {s['floor_cpu_ms'] / s['cpu_ms']:.0%} |"
        )
    typical = web["scenarios"][0]
    lines += [
        "",
        "Noise (req/s of each round, lowest–highest): "
        + "; ".join(
            f"{s['name'].split(',')[0]}: service {_spread(s['service_rounds'])}, floor {_spread(s['floor_rounds'])}, "
            f"share per round {', '.join(f'{x:.0%}' for x in s['shares'])}"
            for s in web["scenarios"]
        )
        + f". Load average (1 min) before / after: {web['load_before'][0]:.1f} / {web['load_after'][0]:.1f}. "
        f"CPU share = floor's worker CPU per request / the service's: the throughput share this machine would "
        f"give without neighbours (the work is CPU-bound), measured from /proc, so far less noisy than req/s. "
        f"Busiest worker's share of a round's CPU, at most: {max(s['busiest'] for s in web['scenarios']):.0%} "
        f"(50% = the {web['workers']} workers shared the load evenly).",
        "",
    ]
    if judged:
        share_ok = typical["share"] >= TARGETS["typical_share"]
        cpu_share = typical["floor_cpu_ms"] / typical["cpu_ms"]
        p99_ok = typical["p99_ratio"] <= TARGETS["typical_p99_vs_floor"]
        lines += [
            f"Targets (patient-view, typical prefetch): throughput ≥ {TARGETS['typical_share']:.0%} of the floor's "
            f"— {typical['share']:.0%}: **{mark(share_ok)}**; p99 ≤ {TARGETS['typical_p99_vs_floor']:g}× the "
            f"floor's p99 — {typical['p99_ratio']:.2f}× ({typical['service'].p99_ms:.2f} ms against "
            f"{typical['floor'].p99_ms:.2f} ms): **{mark(p99_ok)}**. By worker CPU per request the share is "
            f"{cpu_share:.0%}: **{mark(cpu_share >= TARGETS['typical_share'])}**.",
            "",
        ]
    return lines


def report(rows: list[dict[str, Any]], webs: list[dict[str, Any]], stages: dict[str, Any] | None, smoke: bool) -> str:
    lines = ["# Benchmark results", "", *machine(), ""]
    if smoke:
        lines += ["**Smoke run** (CI): a few iterations and one-second loads; the numbers are not judged.", ""]
    lines += [
        "## In-process: core (extract → engine → cards) against the orjson floor",
        "",
        "| input | resources | MB | orjson floor median / p95 (ms) | core median / p95 (ms) | core / floor "
        "| strict parse median (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['resources']} | {r['bytes'] / 1e6:.2f} | {r['floor'].median_ms:.2f} / "
            f"{r['floor'].p95_ms:.2f} | {r['core'].median_ms:.2f} / {r['core'].p95_ms:.2f} | "
            f"{r['ratio']:.2f} | {r['strict'].median_ms:.2f} |"
        )
    worst = max(r["ratio"] for r in rows if r["name"] != "typical prefetch")
    lines += [
        "",
        f"Target: every full Synthea record ≤ {TARGETS['inprocess_ratio']:g}× the orjson floor — worst "
        f"{worst:.2f}×: **{mark(worst <= TARGETS['inprocess_ratio'])}**.",
        "",
        "The strict parser (duplicate keys, UTF-8, NaN, surrogates: see service/jsonio.py) costs about twice "
        "orjson; it runs once per request, before the core, and the HTTP floor below uses it too.",
        "",
    ]
    for i, web in enumerate(webs):
        lines += http_section(web, judged=i == 0)
    web = webs[0]
    warm, after = web["rss_warm"], web["rss_after"]
    growth = max(a - w for w, a in zip(warm, after, strict=True))
    lines += [
        f"## Memory (RSS per worker, {web['worker_class']} workers, worker recycling off)",
        "",
        "| worker | after warm-up (MB) | after the memory run (MB) | growth (MB) |",
        "|---|---:|---:|---:|",
    ]
    for i, (w, a) in enumerate(zip(warm, after, strict=True), 1):
        lines.append(f"| {i} | {w:.1f} | {a:.1f} | {a - w:+.1f} |")
    peak = max(after)
    lines += [
        "",
        f"{web['memory_requests']:,} requests (patient-view, typical prefetch) between the two readings. "
        f"Target: ≤ {TARGETS['rss_mb']:g} MB per worker with no growth — peak {peak:.1f} MB, largest growth "
        f"{growth:+.1f} MB: **{mark(peak <= TARGETS['rss_mb'] and growth < 5)}**.",
        "",
    ]
    if stages is not None:
        total = next(us for stage, us in stages["service"] if stage == "total")
        lines += [
            "## Where the time goes (patient-view, typical prefetch, in-process)",
            "",
            f"pyinstrument over the WSGI app, {stages['requests']} requests (`python -m bench.profile`); µs per "
            "request with the profiler's overhead, so compare shares rather than absolute values. The floor app "
            f"takes {stages['floor_us']:.0f} µs per request the same way.",
            "",
            "| stage | µs / request | share |",
            "|---|---:|---:|",
        ]
        lines += [f"| {stage} | {us:.0f} | {us / total:.0%} |" for stage, us in stages["service"] if stage != "total"]
        lines += [f"| **total** | {total:.0f} | 100% |", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a quick run for CI (numbers not judged)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each HTTP measurement")
    parser.add_argument("--memory-requests", type=int, default=50_000)
    parser.add_argument(
        "--worker-class",
        action="append",
        choices=("gevent", "sync", "gthread"),
        help=f"gunicorn worker class of service and floor; repeat to compare, the first is judged "
        f"(default: {DEFAULT_WORKER_CLASS})",
    )
    parser.add_argument("--config", type=Path, default=GUNICORN_CONFIG, help="gunicorn configuration file")
    args = parser.parse_args()
    globals()["GUNICORN_CONFIG"] = args.config.resolve()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (make bench installs it)")
    iterations, seconds, memory_requests, rounds, profiled = (
        (3, 1.0, 2_000, 1, 20) if args.smoke else (31, args.seconds, args.memory_requests, ROUNDS, 1000)
    )
    worker_classes = args.worker_class or [DEFAULT_WORKER_CLASS]
    with tempfile.TemporaryDirectory(prefix="magnesium-cds-bench-") as tmp:
        workdir = Path(tmp)
        typical = typical_prefetch(workdir)
        records = sorted(SYNTHEA.glob("*.json"))
        largest = max(records, key=lambda p: p.stat().st_size)
        inputs = [(p.name.split("_")[0] + " " + p.name.split("_")[1], p) for p in records]
        rows = inprocess([*inputs, ("typical prefetch", typical)], iterations)
        order_sign = ROOT / "fhir_samples" / "order-sign-supplement-egfr-25" / "order-sign.json"
        scenarios = {
            "patient-view, typical prefetch": ("/cds-services/magnesium-leg-symptoms", typical),
            f"/evaluate, largest Synthea record ({largest.stat().st_size / 1e6:.1f} MB)": ("/evaluate", largest),
            "order-sign, supplement with eGFR 25": ("/cds-services/magnesium-order-sign", order_sign),
        }
        webs = [
            http(scenarios, workdir, seconds, memory_requests if i == 0 else 0, rounds, worker_class=worker_class)
            for i, worker_class in enumerate(worker_classes)
        ]
    from .profile import breakdown  # noqa: PLC0415 (imports the app: only after the servers are gone)

    stages = breakdown(profiled)
    text = report(rows, webs, stages, args.smoke)
    print(text)
    args.output.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
