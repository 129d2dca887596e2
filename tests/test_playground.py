"""GET /playground: served offline, on in development and off under JWT unless enabled; every golden sample
renders as EHR cards in headless Chromium (playwright-core from package-lock.json, Debian chromium)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from flask import Flask
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from service import create_app, playground
from service.config import ConfigError

from .conftest import ROOT, SAMPLES, SAMPLES_NOW, LiveService, load_json, sample_cases

VENDOR = ROOT / "service" / "static" / "playground" / "vendor"
NODE_MODULES = ROOT / "node_modules"
# Screenshots of every sample, kept after the run (git-ignored with .pytest_cache).
SHOTS = ROOT / ".pytest_cache" / "playground"
JWT = {
    "FIXED_NOW": SAMPLES_NOW,
    "AUTH_MODE": "jwt",
    "PUBLIC_BASE_URL": "https://cds.example.org",
    "TRUSTED_ISSUERS_FILE": str(ROOT / "deploy" / "trusted-issuers.example.yaml"),
}
PLAYGROUND_ROUTES = [
    "/playground",
    "/playground/samples",
    "/playground/samples/mg-low",
    "/playground/assets/playground.js",
]


def expected_cards(case: Path) -> list[tuple[str, str]]:
    """What /evaluate gives for the sample's Bundle (order-select samples: every draft, as order-sign)."""
    expected = load_json(case / "expected.json")
    return sorted((c["topic"], c["indicator"]) for c in expected.get("evaluate_cards", expected["cards"]))


def expected_findings(case: Path) -> set[str]:
    expected = load_json(case / "expected.json")
    return set(expected.get("evaluate_findings", expected["findings"]))


def require_node_modules() -> None:
    if not (NODE_MODULES / "playwright-core").is_dir() or shutil.which("node") is None:
        pytest.fail("node_modules is not installed (make test runs npm ci from package-lock.json)")


@pytest.fixture(scope="module")
def browser_report(live: LiveService) -> Iterator[dict[str, Any]]:
    if not Path("/usr/bin/chromium").exists():
        pytest.fail("chromium is not installed (make test installs Debian's chromium)")
    require_node_modules()
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    done = subprocess.run(
        [
            "node",
            str(ROOT / "tests" / "playground_browser.mjs"),
            live.url,
            str(SHOTS),
            str(SAMPLES / "mg-low" / "bundle.json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    yield json.loads(done.stdout)


def test_every_golden_sample_renders_its_cards_and_findings_in_chromium(browser_report: dict[str, Any]) -> None:
    rendered = {s["name"]: s for s in browser_report["samples"]}
    assert browser_report["title"] == "magnesium-cds playground"
    assert sorted(rendered) == [c.name for c in sample_cases()]
    for case in sample_cases():
        sample = rendered[case.name]
        assert sample["state"] == "done" and sample["error"] is None, case.name
        assert sample["problems"] == [], (case.name, sample["problems"])  # no console errors, no failed request
        hook = "order-sign" if load_json(case / "expected.json").get("hook") else "patient-view"
        assert sample["hook"] == hook, case.name
        assert sorted((c["topic"], c["indicator"]) for c in sample["cards"]) == expected_cards(case), case.name
        assert {f["code"] for f in sample["findings"]} == expected_findings(case), case.name
        assert sample["expectation"].endswith("matches."), case.name
        assert Path(sample["screenshot"]).stat().st_size > 10_000
    assert browser_report["external"] == []  # nothing loaded from outside the service: no CDN


def test_cards_look_as_in_an_ehr(browser_report: dict[str, Any]) -> None:
    cards = [c for s in browser_report["samples"] for c in s["cards"]]
    colours = {c["indicator"]: c["borderColour"] for c in cards}
    assert set(colours) == {"info", "warning", "critical"} and len(set(colours.values())) == 3
    for card in cards:
        assert card["summary"] and card["source"].startswith("Source: ") and len(card["source"]) > len("Source: ")
        # Markdown is rendered into elements, not shown as text; rendered links open outside the page.
        assert card["detailElements"] > 0 and "**" not in card["detailText"]
        assert all(link == ["_blank", "noopener noreferrer"] for link in card["detailLinks"])
    assert any(c["suggestions"] for c in cards) and any(c["links"] for c in cards)
    assert any(c["overrideReasons"] > 0 for c in cards)


def test_findings_table_shows_category_code_evidence_since_and_values(browser_report: dict[str, Any]) -> None:
    sample = next(s for s in browser_report["samples"] if s["name"] == "order-sign-supplement-egfr-25")
    egfr = next(f for f in sample["findings"] if f["code"] == "egfr")
    category, code, display, evidence, _since, values = egfr["cells"]
    assert (category, code) == ("safety", "egfr") and "25" in display
    assert "Observation/" in evidence and "2026-10-20" in evidence
    assert "value" in values and "25" in values
    digoxin = next(s for s in browser_report["samples"] if s["name"] == "mg-low-electrolytes-digoxin")
    assert any(re.fullmatch(r"\d{4}-\d{2}-\d{2}", f["cells"][4]) for f in digoxin["findings"])  # since


def test_a_pasted_bundle_is_evaluated_with_the_button(browser_report: dict[str, Any]) -> None:
    pasted = browser_report["pasted"]
    assert pasted["state"] == "done" and pasted["problems"] == []
    assert [(c["topic"], c["indicator"]) for c in pasted["cards"]] == expected_cards(SAMPLES / "mg-low")
    assert pasted["expectation"] is None  # a pasted Bundle has no golden expectation
    assert pasted["patient"] and "Patient/" in pasted["patient"]


def test_suggestions_and_dismissal_with_a_reason_work_like_an_ehr(browser_report: dict[str, Any]) -> None:
    done = browser_report["interaction"]
    assert done["sample"] and done["problems"] == []
    assert done["accepted"].startswith("Accepted") and '"accepted"' in done["accepted"]
    assert done["reasons"] > 0 and done["dismissed"].startswith(f"Dismissed: {done['reason']}")
    assert '"overridden"' in done["dismissed"]
    assert "card--dismissed" in done["dismissedClass"]


def test_invalid_json_is_reported_on_the_page(browser_report: dict[str, Any]) -> None:
    invalid = browser_report["invalid"]
    assert invalid["state"] == "error" and "not valid JSON" in invalid["error"]
    assert invalid["cards"] == [] and invalid["problems"] == []


def test_hostile_card_text_is_sanitised_and_blocked(browser_report: dict[str, Any]) -> None:
    hostile = browser_report["hostile"]
    assert hostile["xss"] is None and hostile["handlers"] == 0
    assert hostile["summaryHtml"] == "&lt;b&gt;plain&lt;/b&gt; summary"  # the summary is plain text
    assert hostile["strong"] == 1  # the Markdown still renders
    assert hostile["hrefs"] == ["https://example.org/", "https://example.org/"]  # no javascript: links
    # DOMPurify parses the hostile HTML in an inert document; Chromium still reports the event-handler
    # attributes it met there as blocked by the page's CSP. Nothing else may be logged.
    assert all("Content Security Policy" in p and "blocked" in p for p in hostile["problems"])


def test_page_and_assets_are_served_offline_with_security_headers(live: LiveService) -> None:
    page = requests.get(f"{live.url}/playground", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    references = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assets = [r for r in references if r.startswith("playground/assets/")]
    assert len(assets) == 4 and set(references) - set(assets) <= {"docs", "data:,"}
    for ref in assets:
        asset = requests.get(f"{live.url}/{ref}", timeout=5)
        assert asset.status_code == 200 and asset.headers["X-Content-Type-Options"] == "nosniff"
        kind = "text/css" if ref.endswith(".css") else "text/javascript"
        assert asset.headers["Content-Type"].startswith(kind)
    for bad in [
        "assets/..%2F..%2Fapi.py",
        "assets/../../api.py",
        "assets/index.html",
        "samples/..%2Fmg-low",
        "samples/nope",
    ]:
        assert requests.get(f"{live.url}/playground/{bad}", timeout=5).status_code == 404, bad


def test_samples_endpoint_lists_every_golden_sample_with_its_hook(live: LiveService) -> None:
    listed = requests.get(f"{live.url}/playground/samples", timeout=5).json()["samples"]
    assert [s["name"] for s in listed] == [c.name for c in sample_cases()]
    order_sign = next(s for s in listed if s["name"] == "order-select-judges-selection-only")
    assert order_sign["hook"] == "order-sign" and order_sign["description"]
    bundle = requests.get(f"{live.url}/playground/samples/mg-low", timeout=5)
    assert bundle.json() == load_json(SAMPLES / "mg-low" / "bundle.json")


def test_playground_evaluate_answers_as_evaluate(live: LiveService) -> None:
    body = (SAMPLES / "order-sign-supplement-egfr-25" / "bundle.json").read_bytes()
    answers = [
        requests.post(
            f"{live.url}{path}?hook=order-sign",
            data=body,
            headers={"Content-Type": "application/fhir+json"},
            timeout=10,
        )
        for path in ("/evaluate", "/playground/evaluate")
    ]
    assert [r.status_code for r in answers] == [200, 200]
    plain, playground = (r.json() for r in answers)
    assert playground["findings"] == plain["findings"]
    assert [c["summary"] for c in playground["cards"]] == [c["summary"] for c in plain["cards"]]
    bad = requests.post(f"{live.url}/playground/evaluate?hook=x", json={"resourceType": "Bundle"}, timeout=5)
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"


def _served(app: Flask) -> list[int]:
    client = app.test_client()
    responses = [client.get(path) for path in PLAYGROUND_ROUTES]
    responses.append(client.post("/playground/evaluate", json={"resourceType": "Bundle", "entry": []}))
    for response in responses:
        response.close()  # file responses hold their file open until closed
    return [r.status_code for r in responses]


def test_off_by_default_when_authentication_is_on() -> None:
    app = create_app(JWT)
    assert _served(app) == [404] * 5
    with app.test_client().get("/docs") as docs:
        assert docs.status_code == 200  # the rest of the service is unaffected


def test_cds_playground_setting_turns_it_on_under_jwt_and_off_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDS_PLAYGROUND", "true")
    app = create_app(JWT)
    assert _served(app) == [200] * 5
    client = app.test_client()
    bundle = load_json(SAMPLES / "mg-low" / "bundle.json")
    cards = client.post("/playground/evaluate", json=bundle).get_json()["cards"]
    assert [c["source"]["topic"]["code"] for c in cards] == ["mg-low"]
    assert client.post("/evaluate", json=bundle).status_code == 401  # the API itself still needs a client JWT
    monkeypatch.setenv("CDS_PLAYGROUND", "false")
    assert _served(create_app({"FIXED_NOW": SAMPLES_NOW, "AUTH_MODE": "off"})) == [404] * 5
    monkeypatch.setenv("CDS_PLAYGROUND", "yes")
    with pytest.raises(ConfigError, match="CDS_PLAYGROUND"):
        create_app({"AUTH_MODE": "off"})


def test_vendored_libraries_are_the_versions_package_lock_pins() -> None:
    """service/static/playground/vendor/ holds byte-identical copies of the pinned npm packages' files."""
    require_node_modules()
    provenance = load_json(VENDOR / "VENDOR.json")
    lock = load_json(ROOT / "package-lock.json")["packages"]
    manifest = load_json(ROOT / "package.json")["devDependencies"]
    assert set(provenance) == {"marked", "dompurify"}
    served = {p.name for p in VENDOR.iterdir()} - {"VENDOR.json"}
    assert served == {name for info in provenance.values() for name in info["files"]}
    for package, info in provenance.items():
        installed = load_json(NODE_MODULES / package / "package.json")
        assert (
            info["version"] == lock[f"node_modules/{package}"]["version"] == manifest[package] == installed["version"]
        )
        assert info["license"] == installed["license"]
        assert any(name.endswith("LICENSE") for name in info["files"])
        for name, inside in info["files"].items():
            digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
            assert digest == hashlib.sha256((NODE_MODULES / package / inside).read_bytes()).hexdigest(), name
    header = (VENDOR / "marked.umd.js").read_text(encoding="utf-8")[:200]
    assert f"marked v{provenance['marked']['version']}" in header


def test_playground_traffic_conforms_to_openapi(live: LiveService) -> None:
    def text(body: bytes | str, **_: Any) -> str:
        return body.decode() if isinstance(body, bytes) else body

    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    media = {"application/fhir+json": json.loads, "text/html": text, "text/javascript": text, "text/css": text}
    api = OpenAPI.from_dict(
        {**spec, "servers": [{"url": live.url}]}, config=Config(extra_media_type_deserializers=media)
    )
    bundle = (SAMPLES / "order-sign-ppi-with-digoxin" / "bundle.json").read_bytes()
    responses = [
        *(requests.get(f"{live.url}{path}", timeout=10) for path in PLAYGROUND_ROUTES),
        requests.get(f"{live.url}/playground/assets/playground.css", timeout=10),
        requests.get(f"{live.url}/playground/samples/no-such-sample", timeout=10),
        requests.post(
            f"{live.url}/playground/evaluate?hook=order-sign",
            data=bundle,
            headers={"Content-Type": "application/fhir+json"},
            timeout=10,
        ),
        requests.post(
            f"{live.url}/playground/evaluate", data=b"{}", headers={"Content-Type": "text/plain"}, timeout=10
        ),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 200, 404, 200, 415]
    for response in responses:
        request = RequestsOpenAPIRequest(response.request)
        if response.status_code < 400:
            api.validate_request(request)
        api.validate_response(request, RequestsOpenAPIResponse(response))


def test_without_fhir_samples_beside_the_package_the_list_is_empty(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """As in the Docker image, which holds no fhir_samples/: pasting a Bundle is all the page offers."""
    monkeypatch.setattr(playground, "SAMPLES", tmp_path / "fhir_samples")
    client = create_app({"FIXED_NOW": SAMPLES_NOW, "AUTH_MODE": "off"}).test_client()
    assert client.get("/playground/samples").get_json() == {"samples": []}
    assert client.get("/playground/samples/mg-low").status_code == 404
    with client.get("/playground") as page:
        assert page.status_code == 200
