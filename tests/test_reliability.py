"""Production reliability (issue 12) against the live service under gunicorn.conf.py (gevent workers).

A misbehaving FHIR server runs as its own process (tests/misbehaving_fhir.py) and slow clients are raw
sockets. The reliability requirements are bounded times ("answers within N s"), asserted as such.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from . import misbehaving_fhir
from .conftest import LIVE_ENV, SAMPLES, SERVICE_URL, LiveService, load_json

pytestmark = pytest.mark.api
TIMEOUT = 2.0  # CDS_FHIR_TIMEOUT_SECONDS of the service under test
TOKEN = "opaque-access-token-r3l1"


class BadFhirServer(misbehaving_fhir.Process):
    """tests/misbehaving_fhir.py in its own process, with what the tests read back."""

    def seen(self) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = self.control("GET", "/__requests")
        return seen

    def reset(self) -> None:
        self.control("DELETE", "/__control")
        self.control("DELETE", "/__requests")


@pytest.fixture(scope="module")
def bad_fhir_process() -> Iterator[BadFhirServer]:
    server = BadFhirServer()
    yield server
    server.stop()


@pytest.fixture
def bad_fhir(bad_fhir_process: BadFhirServer) -> Iterator[BadFhirServer]:
    bad_fhir_process.reset()
    yield bad_fhir_process
    bad_fhir_process.reset()


@pytest.fixture(scope="module")
def service() -> Iterator[LiveService]:
    """The service as the image runs it (gevent workers), with a 2 s FHIR budget."""
    live = LiveService({**LIVE_ENV, "CDS_FHIR_TIMEOUT_SECONDS": str(TIMEOUT)}, workers=2)
    try:
        live.wait_ready()
        yield live
    finally:
        live.stop()


def fallback_request(fhir_server: str) -> dict[str, Any]:
    """A patient-view call with no prefetch: every key is read from fhirServer."""
    body: dict[str, Any] = load_json(SAMPLES / "mg-low" / "patient-view.json")
    del body["prefetch"]
    body["fhirServer"] = fhir_server
    body["fhirAuthorization"] = {
        "access_token": TOKEN,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "x",
        "subject": "cds",
    }
    return body


PREFETCHED = load_json(SAMPLES / "mg-low" / "patient-view.json")


def post(service: LiveService, body: Any, timeout: float = 30) -> tuple[requests.Response, float]:
    started = time.monotonic()
    r = requests.post(f"{service.url}{SERVICE_URL}", json=body, timeout=timeout)
    return r, time.monotonic() - started


def log_since(service: LiveService, offset: int) -> str:
    return service.log.read_bytes()[offset:].decode("utf-8", "replace")


def worker_rss_mb(service: LiveService) -> list[float]:
    out = subprocess.run(["pgrep", "-P", str(service.proc.pid)], capture_output=True, text=True, check=False)
    sizes = []
    for pid in out.stdout.split():
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
        sizes.append(int(re.search(r"VmRSS:\s+(\d+) kB", status)[1]) / 1024)  # type: ignore[index]
    return sizes


# ---- 1. one wall-clock deadline for all FHIR I/O -------------------------------------------------


@pytest.mark.parametrize(
    "behaviour",
    [
        {"mode": "dribble-headers", "rate": 1},
        {"mode": "dribble-body", "rate": 1},
        {"mode": "slow", "delay": 5},
        {"mode": "huge", "size": 3_000_000, "pages": 5},
    ],
    ids=["dribbled-headers", "dribbled-body", "slow", "huge-paged"],
)
def test_a_misbehaving_fhir_server_gives_412_within_the_budget(
    service: LiveService, bad_fhir: BadFhirServer, behaviour: dict[str, Any]
) -> None:
    bad_fhir.behave(**behaviour)
    r, elapsed = post(service, fallback_request(bad_fhir.base))
    assert r.status_code == 412, r.text
    assert r.json()["resourceType"] == "OperationOutcome"
    assert elapsed < TIMEOUT + 0.5, f"answered after {elapsed:.2f} s"
    print(f"{behaviour['mode']}: 412 after {elapsed:.2f} s")


def test_the_byte_cap_counts_all_keys_and_pages_and_memory_stays_bounded(
    service: LiveService, bad_fhir: BadFhirServer
) -> None:
    # Each page (~4 MB) is far under the per-response limit; 5 keys x 5 pages is ~100 MB in all.
    bad_fhir.behave(mode="huge", size=4_000_000, pages=5)
    for _ in range(4):
        r, _elapsed = post(service, fallback_request(bad_fhir.base))
        assert r.status_code == 412
        assert "CDS_FHIR_MAX_TOTAL_BYTES" in r.text or "CDS_FHIR_TIMEOUT_SECONDS" in r.text
    rss = worker_rss_mb(service)
    print(f"worker RSS after big answers: {[round(x) for x in rss]} MB")
    assert max(rss) < 250


# ---- 2. no head-of-line blocking, no slowloris stall ----------------------------------------------


def test_chart_opens_waiting_on_a_slow_ehr_do_not_slow_other_requests(
    service: LiveService, bad_fhir: BadFhirServer
) -> None:
    bad_fhir.behave(mode="slow", delay=5)
    stop = threading.Event()

    def chart_open() -> None:
        while not stop.is_set():
            requests.post(f"{service.url}{SERVICE_URL}", json=fallback_request(bad_fhir.base), timeout=30)

    waiting = [threading.Thread(target=chart_open) for _ in range(4)]
    for t in waiting:
        t.start()
    try:
        time.sleep(0.5)  # all four are now waiting on the FHIR server
        latencies = []
        with requests.Session() as session:
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                started = time.monotonic()
                r = session.post(f"{service.url}{SERVICE_URL}", json=PREFETCHED, timeout=10)
                latencies.append(time.monotonic() - started)
                assert r.status_code == 200
    finally:
        stop.set()
        for t in waiting:
            t.join()
    median_ms = statistics.median(latencies) * 1000
    print(f"median with prefetch while 4 chart-opens wait: {median_ms:.1f} ms over {len(latencies)} requests")
    assert median_ms < 50


def slow_sockets(service: LiveService, kind: str, count: int = 16) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", service.port), timeout=5)
        if kind == "headers":
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        else:
            s.sendall(
                f"POST {SERVICE_URL} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Content-Length: 100000\r\n\r\n{".encode()
            )
        socks.append(s)
    return socks


@pytest.mark.parametrize("kind", ["headers", "body"])
def test_sixteen_slowloris_sockets_do_not_stall_the_service(service: LiveService, kind: str) -> None:
    socks = slow_sockets(service, kind)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(0.5):
            for s in socks:
                with contextlib.suppress(OSError):
                    s.sendall(b"a" if kind == "headers" else b" ")

    dripper = threading.Thread(target=trickle)
    dripper.start()
    try:
        worst = 0.0
        for _ in range(10):
            started = time.monotonic()
            assert requests.get(f"{service.url}/healthz", timeout=5).status_code == 200
            r, elapsed = post(service, PREFETCHED, timeout=5)
            assert r.status_code == 200
            worst = max(worst, time.monotonic() - started - elapsed, elapsed)
        print(f"slowloris ({kind}, 16 sockets): slowest answer {worst * 1000:.0f} ms")
        assert worst < 1.0
    finally:
        stop.set()
        dripper.join()
        for s in socks:
            s.close()


# ---- 5. fallback URLs and FHIR error text --------------------------------------------------------


@pytest.mark.parametrize(
    "next_path",
    [
        "{base}/../secret/Observation",
        "{base}/%2e%2e/secret/Observation",
        "{base}/Observation/..%2f..%2fsecret",
        "{root}/secret/Observation",
        "http://localhost:{port}/fhir/Observation?page=2",
        "{base}@evil.example/Observation",
    ],
)
def test_next_links_that_leave_fhir_server_are_refused_and_the_token_stays_home(
    service: LiveService, bad_fhir: BadFhirServer, next_path: str
) -> None:
    url = next_path.format(base=bad_fhir.base, root=bad_fhir.root, port=bad_fhir.port)
    bad_fhir.behave(mode="next", next_url=url)
    r, _ = post(service, fallback_request(bad_fhir.base))
    assert r.status_code == 412
    assert "next link points outside fhirServer" in r.text
    paths = [s["path"] for s in bad_fhir.seen()]
    assert all(p.startswith("/fhir/") and "secret" not in p and ".." not in p for p in paths), paths


def test_fhir_server_error_text_is_summarised_never_logged_or_returned(
    service: LiveService, bad_fhir: BadFhirServer
) -> None:
    secret = "Patient ada-0001 (Jane Roe, MRN 998877) has no consent"
    bad_fhir.behave(mode="outcome", status=500, text=secret)
    offset = service.log.stat().st_size
    r, _ = post(service, fallback_request(bad_fhir.base))
    assert r.status_code == 412
    assert "error/exception" in r.text
    time.sleep(0.3)
    logged = log_since(service, offset)
    assert "HTTP 500" in logged
    for text in (secret, "MRN", "Jane Roe", TOKEN):
        assert text not in r.text
        assert text not in logged


def test_redirects_from_the_fhir_server_are_not_followed(service: LiveService, bad_fhir: BadFhirServer) -> None:
    bad_fhir.behave(mode="redirect", location=f"{bad_fhir.root}/secret")
    r, _ = post(service, fallback_request(bad_fhir.base))
    assert r.status_code == 412
    assert all("secret" not in s["path"] for s in bad_fhir.seen())


def test_deeply_nested_fhir_answers_are_refused_without_a_stack_trace(
    service: LiveService, bad_fhir: BadFhirServer
) -> None:
    bad_fhir.behave(mode="deep", depth=200)
    offset = service.log.stat().st_size
    r, _ = post(service, fallback_request(bad_fhir.base))
    assert r.status_code == 412
    assert "nested deeper" in r.text
    assert "Traceback" not in log_since(service, offset)


# ---- 8. edges gunicorn answers itself --------------------------------------------------------------


def raw(service: LiveService, data: bytes, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", service.port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks):
                head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                if length and len(body) >= int(length[1]):
                    break
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
        (b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(150)) + b"\r\n", 431),
        (
            b"POST /evaluate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
            400,
        ),
    ],
    ids=["bad-request-line", "uri-too-long", "header-too-large", "too-many-headers", "bad-chunk"],
)
def test_errors_gunicorn_answers_itself_are_operation_outcome_json(
    service: LiveService, request_bytes: bytes, status: int
) -> None:
    got, headers, body = raw(service, request_bytes)
    assert got == status
    assert headers["content-type"] == "application/json"  # as the app's own errors
    outcome = json.loads(body)
    assert outcome["resourceType"] == "OperationOutcome"
    assert "aaaa" not in body.decode() and "bbbb" not in body.decode()  # the request is never echoed


def test_a_chunked_body_over_the_limit_is_413(service: LiveService) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"resourceType": "Bundle", "entry": ['
        for _ in range(12):  # 12 MiB > the 10 MiB CDS_MAX_BODY_BYTES
            yield b" " * (1024 * 1024)
        yield b"]}"

    r = requests.post(
        f"{service.url}/evaluate", data=chunks(), headers={"Content-Type": "application/json"}, timeout=30
    )
    assert r.status_code == 413
    assert "CDS_MAX_BODY_BYTES" in r.json()["issue"][0]["diagnostics"]


def test_a_chunked_body_under_the_limit_is_read(service: LiveService) -> None:
    body = json.dumps(load_json(SAMPLES / "mg-low" / "bundle.json")).encode()
    r = requests.post(
        f"{service.url}/evaluate",
        data=iter([body[:100], body[100:]]),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 200, r.text


def test_the_gunicorn_error_log_is_json_lines(service: LiveService) -> None:
    raw(service, b"GARBAGE\r\n\r\n")
    time.sleep(0.3)
    gunicorn_lines = [
        json.loads(line)
        for line in service.log.read_text(encoding="utf-8").splitlines()
        if line.startswith("{") and '"gunicorn.error"' in line
    ]
    assert any(line["msg"].startswith("Booting worker") for line in gunicorn_lines)
    assert any("Invalid request" in line["msg"] for line in gunicorn_lines)
    plain = [
        line
        for line in service.log.read_text(encoding="utf-8").splitlines()
        if line.startswith("[") and "[INFO]" in line
    ]
    assert plain == []  # gunicorn's default "[date] [pid] [INFO] ..." format is gone


# ---- 6. metrics and health do not leak ----------------------------------------------------------


def test_metrics_are_not_on_the_public_port_but_on_their_own_listener(service: LiveService) -> None:
    r = requests.get(f"{service.url}/metrics", timeout=5)
    assert r.status_code == 404
    assert "cds_" not in r.text
    requests.get(f"{service.url}/healthz", timeout=5)
    private = requests.get(service.metrics_url, timeout=5)
    assert private.status_code == 200
    assert "cds_http_requests_total" in private.text


def test_healthz_does_not_expose_process_ids(service: LiveService) -> None:
    assert requests.get(f"{service.url}/healthz", timeout=5).json() == {"status": "ok"}


def test_the_service_runs_gevent_workers(service: LiveService) -> None:
    assert '"Using worker: service.gunicorn_worker.DeadlineGeventWorker"' in service.log.read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", ["headers", "body"])
def test_a_slow_client_is_answered_408_and_dropped_at_the_worker_timeout(kind: str) -> None:
    live = LiveService({**LIVE_ENV, "GUNICORN_CMD_ARGS": "--timeout 3"}, workers=1)
    try:
        live.wait_ready()
        (sock,) = slow_sockets(live, kind, count=1)
        started = time.monotonic()
        sock.settimeout(0.5)
        received = b""
        try:
            while time.monotonic() - started < 10:
                with contextlib.suppress(TimeoutError):
                    sock.sendall(b"a" if kind == "headers" else b" ")
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    received += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass  # the server closed the connection after its 408 while we were still sending: dropped
        finally:
            elapsed = time.monotonic() - started
            sock.close()
        print(f"slow client ({kind}) dropped after {elapsed:.1f} s")
        assert 2.5 < elapsed < 6
        time.sleep(0.3)
        log = live.log.read_text(encoding="utf-8")
        assert "not complete within 3 s (slow client)" in log and "Traceback" not in log
        if received:  # a reset racing our last byte can discard the answer already on its way
            assert received.startswith(b"HTTP/1.1 408")
            assert json.loads(received.partition(b"\r\n\r\n")[2])["resourceType"] == "OperationOutcome"
    finally:
        live.stop()


def test_the_deadline_counts_from_arrival_with_a_slow_client_body(
    service: LiveService, bad_fhir: BadFhirServer
) -> None:
    """A body trickled in over 1.5 s leaves the FHIR reads only the rest of the 2 s budget."""
    bad_fhir.behave(mode="slow", delay=1.0)
    data = json.dumps(fallback_request(bad_fhir.base)).encode()

    def trickled() -> Iterator[bytes]:
        yield data[:50]
        time.sleep(1.5)
        yield data[50:]

    started = time.monotonic()
    r = requests.post(
        f"{service.url}{SERVICE_URL}", data=trickled(), headers={"Content-Type": "application/json"}, timeout=30
    )
    assert r.status_code == 412
    assert time.monotonic() - started < TIMEOUT + 0.5


def test_concurrent_fallback_calls_each_keep_their_deadline(service: LiveService, bad_fhir: BadFhirServer) -> None:
    bad_fhir.behave(mode="dribble-headers", rate=2)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: post(service, fallback_request(bad_fhir.base)), range(8)))
    assert [r.status_code for r, _ in results] == [412] * 8
    assert max(t for _, t in results) < TIMEOUT + 0.5


# ---- 4. bounded memory under adversarial input ------------------------------------------------------


def test_rss_stays_flat_after_unique_large_condition_texts(service: LiveService) -> None:
    bundle = load_json(SAMPLES / "mg-low" / "bundle.json")
    patient = next(e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")

    def with_text(i: int) -> dict[str, Any]:
        text = f"{i:04d} leg cramps " + "x" * 1_000_000
        condition = {
            "resourceType": "Condition",
            "id": f"big-{i}",
            "subject": {"reference": f"Patient/{patient}"},
            "clinicalStatus": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
            },
            "code": {"text": text},
        }
        return {**bundle, "entry": [*bundle["entry"], {"resource": condition}]}

    for i in range(5):  # warm-up
        requests.post(f"{service.url}/evaluate", json=with_text(10_000 + i), timeout=60)
    before = sum(worker_rss_mb(service))
    for i in range(60):
        assert requests.post(f"{service.url}/evaluate", json=with_text(i), timeout=60).status_code == 200
    after = sum(worker_rss_mb(service))
    print(f"RSS of both workers: {before:.0f} MB before, {after:.0f} MB after 60 unique 1 MB condition texts")
    assert after - before < 60
