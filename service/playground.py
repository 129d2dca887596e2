"""GET /playground: a page that renders the service's cards as an EHR shows them (a development tool).

Registered only when CDS_PLAYGROUND is on (by default: with CDS_AUTH_MODE=off). Everything the page
needs is served from the package, so it works offline: its HTML, script and style, and vendored copies of
marked (Markdown) and DOMPurify (sanitising the rendered HTML) listed with their versions and licences in
static/playground/vendor/VENDOR.json. The golden samples of fhir_samples/ are offered when that folder
sits beside the package (a source checkout; the Docker image has none, so only pasting is offered there).

The page evaluates through POST /playground/evaluate, which is POST /evaluate itself without client
authentication: whoever enables the playground under CDS_AUTH_MODE=jwt lets anyone who reaches the
service evaluate the Bundles they send. It reads nothing but the request (no FHIR server is called).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, send_file, send_from_directory

from .api import evaluate_bundle
from .jsonio import json_response

bp = Blueprint("playground", __name__)
PAGE = Path(__file__).resolve().parent / "static" / "playground"
SAMPLES = Path(__file__).resolve().parent.parent / "fhir_samples"
MIMETYPES = {".js": "text/javascript", ".css": "text/css", ".json": "application/json"}
# Self-contained page: scripts and styles only from this service, no inline code, no framing.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@bp.get("/playground")
def page() -> Response:
    response = send_file(PAGE / "index.html", mimetype="text/html", max_age=0)
    response.headers["Content-Security-Policy"] = CSP
    return response


@bp.get("/playground/assets/<path:name>")
def asset(name: str) -> Response:
    """The page's script, style and vendored libraries (safe_join refuses anything outside the folder)."""
    if name == "index.html":
        abort(404)  # the page itself only with its CSP, at /playground
    kind = MIMETYPES.get(Path(name).suffix, "text/plain")  # explicit: the host's mime.types may differ
    return send_from_directory(PAGE, name, mimetype=kind, max_age=0)


@bp.get("/playground/samples")
def samples() -> Response:
    """The golden samples: name, description, the hook /evaluate should use, and the expected cards."""
    return json_response({"samples": [_describe(case) for case in _cases()]})


@bp.get("/playground/samples/<name>")
def sample_bundle(name: str) -> Response:
    case = next((c for c in _cases() if c.name == name), None)
    if case is None:
        abort(404)
    return send_file(case / "bundle.json", mimetype="application/fhir+json", max_age=0)


@bp.post("/playground/evaluate")
def evaluate() -> Response:
    """POST /evaluate (same validation, same answer), for the page."""
    return evaluate_bundle()


def _cases() -> list[Path]:
    if not SAMPLES.is_dir():
        return []
    return sorted(p for p in SAMPLES.iterdir() if (p / "expected.json").is_file() and (p / "bundle.json").is_file())


def _describe(case: Path) -> dict[str, Any]:
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
    # /evaluate judges a Bundle's draft MedicationRequests with ?hook=order-sign (order-select samples too).
    hook = "order-sign" if expected.get("hook") in ("order-sign", "order-select") else "patient-view"
    cards = expected.get("evaluate_cards", expected.get("cards", []))
    return {
        "name": case.name,
        "description": expected.get("description", ""),
        "hook": hook,
        "expectedCards": [{"topic": c["topic"], "indicator": c["indicator"]} for c in cards],
    }
