"""The command line: readable cards for every sample, JSON output, rules checking, clear errors."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fhir_samples.make_requests import request_path
from service.cli import main
from service.rules_loader import DEFAULT_RULES_DIR

from .conftest import ROOT, SAMPLES_NOW, load_json, sample_cases

CASES = sample_cases()


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cli_prints_readable_cards_for_every_sample(case: Path) -> None:
    expected = load_json(case / "expected.json")
    for path, cards in (
        (request_path(case), expected["cards"]),
        (case / "bundle.json", expected.get("evaluate_cards", expected["cards"])),
    ):
        hook = ["--hook", "order-sign"] if path.name == "bundle.json" and expected.get("hook") else []
        code, out, err = cli("evaluate", str(path), "--now", SAMPLES_NOW, *hook)
        assert code == 0, err
        for card in cards:
            assert f"[{card['indicator'].upper()}]" in out and f"topic: {card['topic']}" in out
        if not cards:
            assert "No cards" in out
        assert "**" not in out and "](" not in out  # Markdown rendered as text


def test_cli_json_format_matches_the_service(client: object) -> None:
    code, out, _ = cli(
        "evaluate", str(ROOT / "fhir_samples/mg-low/bundle.json"), "--now", SAMPLES_NOW, "--format", "json"
    )
    body = json.loads(out)
    assert code == 0 and [c["source"]["topic"]["code"] for c in body["cards"]] == ["mg-low"]
    assert {f["code"] for f in body["findings"]} == {"serum-mg-low", "older-age"}


def test_cli_shows_suggestions() -> None:
    code, out, _ = cli(
        "evaluate", str(ROOT / "fhir_samples/order-sign-supplement-egfr-25/order-sign.json"), "--now", SAMPLES_NOW
    )
    assert code == 0 and "Suggestions:" in out and "delete MedicationRequest/draft-wes-mgo" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"resourceType": "Patient"}', "expected a FHIR Bundle or a CDS Hooks request"),
        ("{nope", "not valid JSON"),
        ('{"hook": "patient-view", "hookInstance": "x", "context": {}}', "hookInstance"),
    ],
)
def test_cli_bad_input_exits_2_with_a_message(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "input.json"
    path.write_text(content, encoding="utf-8")
    code, _, err = cli("evaluate", str(path))
    assert code == 2 and message in err


def test_cli_hook_request_without_its_prefetch_says_which_key(tmp_path: Path) -> None:
    request = load_json(ROOT / "fhir_samples/mg-low/patient-view.json")
    del request["prefetch"]["conditions"]
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request), encoding="utf-8")
    code, _, err = cli("evaluate", str(path))
    assert code == 2 and "prefetch.conditions" in err


def test_check_rules_passes_and_fails_with_the_file_and_field(tmp_path: Path) -> None:
    code, out, _ = cli("check-rules")
    assert code == 0 and out.startswith("rules OK: knowledge base 1.0.0")
    broken = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, broken)
    text = (broken / "thresholds.yaml").read_text(encoding="utf-8").replace("serum-mg-low:", "serum-mg-lo:", 1)
    (broken / "thresholds.yaml").write_text(text, encoding="utf-8")
    code, _, err = cli("check-rules", "--rules-dir", str(broken))
    assert code == 1 and "thresholds.yaml: thresholds: missing required entries serum-mg-low" in err


def test_python_dash_m_service_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service", "check-rules"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and "rules OK" in result.stdout
