"""Derive each case's CDS Hooks request from its bundle.json.

The hook comes from expected.json (`hook`, default patient-view). The prefetch is what a CDS client
would send after running the service's discovery templates against a FHIR server holding the bundle:
`Patient/{id}` reads become the resource, searches become searchset Bundles (empty when nothing
matches; `code` and `status` parameters are applied). For order-select and order-sign, the bundle's
MedicationRequests with status draft become `context.draftOrders` and are left out of the prefetch;
order-select takes its `selections` from expected.json. Run after editing a bundle:

    .venv/bin/python fhir_samples/make_requests.py

tests/test_samples.py fails when a committed request is out of date.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from service.rules_loader import load_knowledge_base  # noqa: E402

SERVICE_FOR_HOOK = {
    "patient-view": "magnesium-leg-symptoms",
    "order-select": "magnesium-order-select",
    "order-sign": "magnesium-order-sign",
}


def _is_draft(resource: dict[str, Any]) -> bool:
    return resource["resourceType"] == "MedicationRequest" and resource.get("status") == "draft"


def _matches(resource: dict[str, Any], rtype: str, params: dict[str, list[str]]) -> bool:
    if resource["resourceType"] != rtype:
        return False
    codes = {c for v in params.get("code", []) for c in v.split(",")}
    codings = resource.get("code", {}).get("coding", [])  # a text-only code never matches a code search
    if codes and not any(f"{c.get('system')}|{c.get('code')}" in codes for c in codings):
        return False
    statuses = {s for v in params.get("status", []) for s in v.split(",")}
    return not statuses or resource.get("status") in statuses


def hook_request(case: str, bundle: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    hook = expected.get("hook", "patient-view")
    service = next(s for s in load_knowledge_base().services if s.id == SERVICE_FOR_HOOK[hook])
    resources = [e["resource"] for e in bundle.get("entry", [])]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    on_record = [r for r in resources if hook == "patient-view" or not _is_draft(r)]
    prefetch: dict[str, Any] = {}
    for key, template in service.prefetch.items():
        path, _, query = template.partition("?")
        if not query:  # a read: Patient/{{context.patientId}}
            prefetch[key] = patient
            continue
        params = parse_qs(query)
        matches = [r for r in on_record if _matches(r, path, params)]
        prefetch[key] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches),
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r, "search": {"mode": "match"}} for r in matches],
        }
    context: dict[str, Any] = {"userId": "Practitioner/example", "patientId": patient["id"]}
    if hook != "patient-view":
        drafts = [r for r in resources if _is_draft(r)]
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in drafts],
        }
    if hook == "order-select":
        context["selections"] = expected["selections"]
    return {
        "hook": hook,
        "hookInstance": str(uuid.uuid5(uuid.NAMESPACE_URL, f"magnesium-cds/fhir_samples/{case}")),
        "fhirServer": "https://ehr.example.org/fhir",
        "context": context,
        "prefetch": prefetch,
    }


def request_path(case_dir: Path) -> Path:
    expected = json.loads((case_dir / "expected.json").read_text())
    return case_dir / f"{expected.get('hook', 'patient-view')}.json"


def render(case_dir: Path) -> str:
    bundle = json.loads((case_dir / "bundle.json").read_text())
    expected = json.loads((case_dir / "expected.json").read_text())
    return json.dumps(hook_request(case_dir.name, bundle, expected), indent=2) + "\n"


def main() -> None:
    for case_dir in sorted(p for p in ROOT.iterdir() if (p / "bundle.json").exists()):
        request_path(case_dir).write_text(render(case_dir))
        print(f"wrote {request_path(case_dir).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
