"""Derive each case's CDS Hooks request (patient-view.json) from its bundle.json.

The prefetch is what a CDS client would send after running this service's discovery templates against
a FHIR server holding the bundle: `Patient/{id}` reads become the resource, searches become searchset
Bundles (empty when nothing matches). Run after editing a bundle:

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

SERVICE_ID = "magnesium-leg-symptoms"


def hook_request(case: str, bundle: dict[str, Any]) -> dict[str, Any]:
    service = load_knowledge_base().service(SERVICE_ID)
    if service is None:
        raise SystemExit(f"no service {SERVICE_ID!r} in rules/services.yaml")
    resources = [e["resource"] for e in bundle.get("entry", [])]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    prefetch: dict[str, Any] = {}
    for key, template in service.prefetch.items():
        path, _, query = template.partition("?")
        if not query:  # a read: Patient/{{context.patientId}}
            prefetch[key] = patient
            continue
        codes = {c for v in parse_qs(query).get("code", []) for c in v.split(",")}
        matches = [
            r
            for r in resources
            if r["resourceType"] == path
            and (not codes or any(f"{c.get('system')}|{c.get('code')}" in codes for c in r["code"]["coding"]))
        ]
        prefetch[key] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches),
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r, "search": {"mode": "match"}} for r in matches],
        }
    return {
        "hook": service.hook,
        "hookInstance": str(uuid.uuid5(uuid.NAMESPACE_URL, f"magnesium-cds/fhir_samples/{case}")),
        "fhirServer": "https://ehr.example.org/fhir",
        "context": {"userId": "Practitioner/example", "patientId": patient["id"]},
        "prefetch": prefetch,
    }


def render(case_dir: Path) -> str:
    bundle = json.loads((case_dir / "bundle.json").read_text())
    return json.dumps(hook_request(case_dir.name, bundle), indent=2) + "\n"


def main() -> None:
    for case_dir in sorted(p for p in ROOT.iterdir() if (p / "bundle.json").exists()):
        (case_dir / "patient-view.json").write_text(render(case_dir))
        print(f"wrote {case_dir.name}/patient-view.json")


if __name__ == "__main__":
    main()
