"""The benchmark harness works end to end (smoke mode, as CI runs it). Its numbers are never judged here."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from flask.testing import FlaskClient

from bench.floor_app import create_app as create_floor_app

from .conftest import ROOT, SHARED


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory: pytest.TempPathFactory) -> str:
    output = tmp_path_factory.mktemp("bench") / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = output.read_text(encoding="utf-8")
    assert text.strip() in done.stdout  # printed and written alike
    return text


def table_rows(report: str, heading: str) -> list[list[str]]:
    section = report.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("|---")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]


def test_smoke_run_describes_the_machine_and_says_it_is_a_smoke_run(smoke_report: str) -> None:
    assert "- Machine:" in smoke_report and "cores" in smoke_report and "wrk" in smoke_report
    assert "**Smoke run**" in smoke_report


def test_in_process_table_has_every_synthea_record_and_the_typical_prefetch(smoke_report: str) -> None:
    rows = table_rows(smoke_report, "In-process")
    names = {row[0] for row in rows}
    expected = {" ".join(p.name.split("_")[:2]) for p in (SHARED / "data" / "synthea").glob("*.json")}
    assert names == expected | {"typical prefetch"}
    typical = next(row for row in rows if row[0] == "typical prefetch")
    assert 25 <= int(typical[1]) <= 50  # "a typical prefetch": ~30 resources, 44 with conditions and procedures
    for row in rows:
        assert float(row[5]) > 0  # a ratio was computed from two real measurements


def test_http_scenarios_ran_without_errors_against_their_floor(smoke_report: str) -> None:
    rows = table_rows(smoke_report, "HTTP under gunicorn")
    assert [row[0].split(",")[0] for row in rows] == ["patient-view", "/evaluate", "order-sign"]
    for row in rows:
        assert re.fullmatch(r"\d+", row[2]), f"service errors or no throughput: {row}"
        assert float(row[4]) > 0 and row[6].endswith("%")
    # The order-sign scenario really exercises the CDS work: its request yields the supplement card.
    assert "order-mg-supplement" in rows[2][1]


def test_memory_section_reports_each_worker_before_and_after_the_load(smoke_report: str) -> None:
    rows = table_rows(smoke_report, "Memory")
    assert len(rows) >= 1
    for _, warm, after, _growth in rows:
        assert 20 < float(warm) < 2000 and 20 < float(after) < 2000


def test_floor_endpoint_parses_the_body_like_the_service_and_says_nothing() -> None:
    client: FlaskClient = create_floor_app().test_client()
    ok = client.post("/cds-services/anything", data=b'{"hook": "patient-view"}', content_type="application/json")
    assert ok.status_code == 200 and ok.get_json() == {"cards": []}
    # The same strict parser as the service: a duplicate key is refused, so the floor does the same parse work.
    duplicate = client.post("/evaluate", data=b'{"a": 1, "a": 2}', content_type="application/json")
    assert duplicate.status_code == 400
