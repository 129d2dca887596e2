"""Operations on the live service: probes, metrics under two workers, request ids, JSON logs, docs, versions."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import yaml

from service.version import __version__

from .conftest import ROOT, SAMPLES, SERVICE_URL, SHARED, LiveService, free_port, load_json

pytestmark = pytest.mark.api


def test_readyz_reports_the_checks(live: LiveService) -> None:
    r = requests.get(f"{live.url}/readyz", timeout=5)
    assert r.status_code == 200
    assert r.json()["status"] == "ready" and r.json()["checks"]["rules"].startswith("loaded (knowledge base 1.0.0")


def metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_count_every_worker(live: LiveService) -> None:
    barrett = (SHARED / "data" / "synthea").glob("Barrett_Douglas_*.json").__next__().read_bytes()
    before = requests.get(live.metrics_url, timeout=5).text
    route, n = "/evaluate", 24

    def post(_: int) -> int:
        return requests.post(
            f"{live.url}{route}", data=barrett, headers={"Content-Type": "application/json"}, timeout=30
        ).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert set(pool.map(post, range(n))) == {200}
    time.sleep(0.2)
    after = requests.get(live.metrics_url, timeout=5).text
    served = metric(after, "cds_http_requests_total", route=route, method="POST", status="200") - metric(
        before, "cds_http_requests_total", route=route, method="POST", status="200"
    )
    assert served == n  # every worker's requests, whichever worker answers /metrics
    issued = [
        json.loads(x)
        for x in live.log.read_text(encoding="utf-8").splitlines()
        if '"event":"card-issued"' in x and '"service":"evaluate"' in x and '"topic":"mg-not-measured"' in x
    ]
    assert len({e["pid"] for e in issued}) == 2  # both workers served some of them
    assert metric(after, "cds_cards_total", topic="mg-not-measured", indicator="info") >= n
    assert "cds_http_request_duration_seconds_bucket" in after


def test_feedback_and_fallback_metrics_count_outcomes(live: LiveService) -> None:
    requests.post(
        f"{live.url}{SERVICE_URL}/feedback",
        timeout=5,
        json={"feedback": [{"card": "x", "outcome": "overridden", "outcomeTimestamp": "2026-11-15T10:00:00Z"}]},
    )
    request = load_json(SAMPLES / "mg-low" / "patient-view.json")
    request["fhirServer"] = f"http://127.0.0.1:{free_port()}/fhir"
    del request["prefetch"]["conditions"]
    assert requests.post(f"{live.url}{SERVICE_URL}", json=request, timeout=10).status_code == 412
    time.sleep(0.1)
    text = requests.get(live.metrics_url, timeout=5).text
    assert metric(text, "cds_feedback_total", outcome="overridden") >= 1
    assert metric(text, "cds_fhir_fallback_requests_total", outcome="unreachable") >= 1
    assert "cds_fhir_fallback_request_duration_seconds_count" in text


def test_request_id_is_echoed_or_generated_and_logged(live: LiveService) -> None:
    mine = requests.post(
        f"{live.url}{SERVICE_URL}",
        json=load_json(SAMPLES / "mg-low" / "patient-view.json"),
        headers={"X-Request-ID": "ehr-call-7f3a"},
        timeout=5,
    )
    assert mine.headers["X-Request-ID"] == "ehr-call-7f3a"
    generated = requests.get(f"{live.url}/healthz", headers={"X-Request-ID": "bad id with spaces"}, timeout=5)
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["X-Request-ID"])
    time.sleep(0.2)
    lines = [json.loads(x) for x in live.log.read_text(encoding="utf-8").splitlines() if "ehr-call-7f3a" in x]
    assert {x["logger"] for x in lines} >= {"magnesium_cds.events", "gunicorn.access"}
    access = next(x for x in lines if x["logger"] == "gunicorn.access")
    assert access["status"] == 200 and access["path"] == SERVICE_URL and access["durationMs"] > 0


def test_openapi_is_served_and_docs_work_offline(live: LiveService) -> None:
    served = requests.get(f"{live.url}/openapi.yaml", timeout=5)
    assert yaml.safe_load(served.text) == yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    page = requests.get(f"{live.url}/docs", timeout=5)
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    references = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert references and all(ref.startswith("/docs/") for ref in references)  # nothing from a CDN
    for ref in references:
        asset = requests.get(f"{live.url}{ref}", timeout=5)
        assert asset.status_code == 200 and len(asset.content) > 0
    assert "SwaggerUIBundle" in requests.get(f"{live.url}/docs/swagger-ui-bundle.js", timeout=5).text
    assert requests.get(f"{live.url}/docs/..%2Fapi.py", timeout=5).status_code == 404


def test_discovery_and_rules_report_versions(live: LiveService) -> None:
    services = requests.get(f"{live.url}/cds-services", timeout=5).json()["services"]
    assert all(
        s["extension"]["magnesium-cds.versions"] == {"service": __version__, "knowledgeBase": "1.0.0"} for s in services
    )
    rules = requests.get(f"{live.url}/rules", timeout=5).json()
    assert (rules["serviceVersion"], rules["version"]) == (__version__, "1.0.0")


def test_docs_render_in_a_headless_browser_without_network(live: LiveService, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.fail("chromium is not installed (make test installs Debian's chromium)")
    dom = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            f"{live.url}/docs",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    ).stdout
    rendered = set(re.findall(r'opblock-summary-path" data-path="([^"]+)"', dom))
    assert {"/cds-services", "/cds-services/{id}", "/cds-services/{id}/feedback", "/evaluate", "/rules"} <= rendered
    assert "magnesium-cds" in dom
