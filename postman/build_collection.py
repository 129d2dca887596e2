"""Build postman/magnesium-cds.postman_collection.json (Postman v2.1) from fhir_samples/.

Request bodies and the card topics each test expects come from the golden samples, so the collection
cannot drift from what the service does (tests/test_postman.py fails when the committed file is out of
date). Run after changing a sample:

    .venv/bin/python postman/build_collection.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "fhir_samples"
OUT = ROOT / "postman" / "magnesium-cds.postman_collection.json"
SERVICES = {
    "patient-view": "magnesium-leg-symptoms",
    "order-select": "magnesium-order-select",
    "order-sign": "magnesium-order-sign",
}

# The collection-level pre-request script: send the client JWT when one is set (CDS_AUTH_MODE=jwt). Tokens
# are single use (jti), so paste a fresh one per request, e.g. from `python tools/mint_jwt.py`.
PRE_REQUEST = [
    "const jwt = pm.environment.get('clientJwt') || pm.collectionVariables.get('clientJwt');",
    "if (jwt) { pm.request.headers.upsert({ key: 'Authorization', value: 'Bearer ' + jwt }); }",
]


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def script(lines: list[str]) -> list[dict[str, Any]]:
    return [{"listen": "test", "script": {"type": "text/javascript", "exec": lines}}]


def status_test(status: int) -> list[str]:
    return [f"pm.test('status is {status}', () => pm.response.to.have.status({status}));"]


def topics_test(cards: list[dict[str, str]]) -> list[str]:
    expected = json.dumps([[c["topic"], c["indicator"]] for c in cards])
    return [
        "pm.test('cards have the expected topics and indicators', () => {",
        "  const cards = pm.response.json().cards;",
        "  pm.expect(cards.map(c => [c.source.topic.code, c.indicator])).to.eql(" + expected + ");",
        "  cards.forEach(c => {",
        "    pm.expect(c.summary.length).to.be.below(140);",
        "    pm.expect(c.uuid).to.match(/^[0-9a-f-]{36}$/);",
        "  });",
        "});",
    ]


def outcome_test(status: int, mentions: str) -> list[str]:
    return [
        *status_test(status),
        "pm.test('body is an OperationOutcome saying what is wrong', () => {",
        "  const body = pm.response.json();",
        "  pm.expect(body.resourceType).to.eql('OperationOutcome');",
        f"  pm.expect(body.issue.map(i => i.diagnostics).join(' ')).to.include({json.dumps(mentions)});",
        "});",
    ]


def request(  # noqa: PLR0917 (positional order mirrors a Postman item: name, method, url, body, tests)
    name: str,
    method: str,
    path: str,
    body: Any = None,
    tests: list[str] | None = None,
    content_type: str = "application/json",
    raw: str | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "name": name,
        "request": {
            "method": method,
            "header": [{"key": "Content-Type", "value": content_type}] if body is not None or raw else [],
            "url": {
                "raw": "{{baseUrl}}" + path,
                "host": ["{{baseUrl}}"],
                "path": [p for p in path.split("?", maxsplit=1)[0].split("/") if p],
            },
        },
        "event": script(tests or []),
    }
    if "?" in path:
        item["request"]["url"]["query"] = [
            {"key": k, "value": v} for k, v in (q.split("=") for q in path.split("?")[1].split("&"))
        ]
    if body is not None or raw is not None:
        item["request"]["body"] = {
            "mode": "raw",
            "raw": raw if raw is not None else json.dumps(body, indent=2),
            "options": {"raw": {"language": "json"}},
        }
    return item


def case_requests(case: str) -> tuple[dict[str, Any], dict[str, Any]]:
    expected = load(SAMPLES / case / "expected.json")
    hook = expected.get("hook", "patient-view")
    hook_request = request(
        f"{hook}: {case}",
        "POST",
        f"/cds-services/{SERVICES[hook]}",
        load(SAMPLES / case / f"{hook}.json"),
        status_test(200) + topics_test(expected["cards"]),
    )
    query = "?hook=order-sign" if hook != "patient-view" else ""
    evaluate = request(
        f"/evaluate{query}: {case}",
        "POST",
        f"/evaluate{query}",
        load(SAMPLES / case / "bundle.json"),
        status_test(200) + topics_test(expected.get("evaluate_cards", expected["cards"])),
        content_type="application/fhir+json",
    )
    return hook_request, evaluate


def build() -> dict[str, Any]:
    patient_view = [
        "mg-low",
        "mg-low-critical",
        "mg-low-normal",
        "mg-normal-with-risk",
        "mg-high",
        "mg-not-measured-long-term-ppi",
        "leg-differential",
        "mg-supplement-safety",
        "no-card-normal",
    ]
    order_select = ["order-select-judges-selection-only", "no-card-order-select-unrelated-drug"]
    order_sign = [
        "order-sign-ppi-without-mg",
        "order-sign-diuretic-low-mg",
        "order-sign-supplement-egfr-25",
        "no-card-order-supplement-safe",
    ]
    evaluate = ["mg-low", "leg-differential", "order-sign-supplement-egfr-25"]

    supplement = load(SAMPLES / "order-sign-supplement-egfr-25" / "order-sign.json")
    keep_card = request(
        "order-sign: keep the card for feedback",
        "POST",
        "/cds-services/magnesium-order-sign",
        supplement,
        [
            *status_test(200),
            "const card = pm.response.json().cards[0];",
            "pm.collectionVariables.set('cardUuid', card.uuid);",
            "pm.collectionVariables.set('suggestionUuid', card.suggestions[0].uuid);",
            "pm.test('critical card with a delete suggestion', () => {",
            "  pm.expect(card.indicator).to.eql('critical');",
            "  pm.expect(card.suggestions[0].actions[0]).to.include({type: 'delete', "
            "resourceId: 'MedicationRequest/draft-wes-mgo'});",
            "});",
        ],
    )
    fallback = load(SAMPLES / "mg-low-electrolytes-digoxin" / "patient-view.json")
    del fallback["prefetch"]
    fallback["fhirServer"] = "{{fhirServer}}"
    no_prefetch = load(SAMPLES / "mg-low" / "patient-view.json")
    del no_prefetch["prefetch"], no_prefetch["fhirServer"]
    wrong_hook = {**load(SAMPLES / "mg-low" / "patient-view.json"), "hook": "order-sign"}
    bad_patient = load(SAMPLES / "mg-low" / "patient-view.json")
    bad_patient["context"]["patientId"] = "Patient/ada-0001"

    folders = [
        (
            "Discovery and operations",
            [
                request(
                    "discovery",
                    "GET",
                    "/cds-services",
                    tests=[
                        *status_test(200),
                        "pm.test('three services with prefetch', () => {",
                        "  const ids = pm.response.json().services.map(s => s.id).sort();",
                        "  pm.expect(ids).to.eql(",
                        "    ['magnesium-leg-symptoms', 'magnesium-order-select', 'magnesium-order-sign']);",
                        "});",
                    ],
                ),
                request("rules catalogue", "GET", "/rules", tests=status_test(200)),
                request("healthz", "GET", "/healthz", tests=status_test(200)),
                request("readyz", "GET", "/readyz", tests=status_test(200)),
            ],
        ),
        ("patient-view", [case_requests(c)[0] for c in patient_view]),
        (
            "patient-view through the FHIR-server fallback",
            [
                request(
                    "patient-view without prefetch: fetched from {{fhirServer}}",
                    "POST",
                    "/cds-services/magnesium-leg-symptoms",
                    fallback,
                    status_test(200) + topics_test([{"topic": "mg-low", "indicator": "critical"}]),
                ),
            ],
        ),
        ("order-select", [case_requests(c)[0] for c in order_select]),
        ("order-sign", [case_requests(c)[0] for c in order_sign]),
        (
            "feedback",
            [
                keep_card,
                request(
                    "feedback: accepted",
                    "POST",
                    "/cds-services/magnesium-order-sign/feedback",
                    {
                        "feedback": [
                            {
                                "card": "{{cardUuid}}",
                                "outcome": "accepted",
                                "acceptedSuggestions": [{"id": "{{suggestionUuid}}"}],
                                "outcomeTimestamp": "2026-11-15T10:05:31Z",
                            }
                        ]
                    },
                    [*status_test(200), "pm.test('empty body', () => pm.expect(pm.response.text()).to.eql(''));"],
                ),
                request(
                    "feedback: overridden with a reason",
                    "POST",
                    "/cds-services/magnesium-order-sign/feedback",
                    {
                        "feedback": [
                            {
                                "card": "{{cardUuid}}",
                                "outcome": "overridden",
                                "overrideReason": {
                                    "reason": {
                                        "system": "urn:magnesium-cds:override-reason",
                                        "code": "benefit-outweighs-risk",
                                    }
                                },
                                "outcomeTimestamp": "2026-11-15T10:06:00Z",
                            }
                        ]
                    },
                    status_test(200),
                ),
            ],
        ),
        ("/evaluate", [case_requests(c)[1] for c in evaluate]),
        (
            "errors",
            [
                request(
                    "malformed JSON → 400",
                    "POST",
                    "/evaluate",
                    raw="{not json",
                    tests=outcome_test(400, "not valid JSON"),
                ),
                request(
                    "wrong content type → 415",
                    "POST",
                    "/evaluate",
                    raw="hello",
                    content_type="text/plain",
                    tests=outcome_test(415, "Content-Type"),
                ),
                request(
                    "unknown service → 404",
                    "POST",
                    "/cds-services/no-such-service",
                    {},
                    tests=outcome_test(404, "no-such-service"),
                ),
                request(
                    "GET on a service → 405",
                    "GET",
                    "/cds-services/magnesium-leg-symptoms",
                    tests=outcome_test(405, "not allowed"),
                ),
                request(
                    "hook not offered by the service → 400",
                    "POST",
                    "/cds-services/magnesium-leg-symptoms",
                    wrong_hook,
                    outcome_test(400, "hook"),
                ),
                request(
                    "patientId is not a bare id → 400",
                    "POST",
                    "/cds-services/magnesium-leg-symptoms",
                    bad_patient,
                    outcome_test(400, "context.patientId"),
                ),
                request(
                    "no prefetch and no fhirServer → 412",
                    "POST",
                    "/cds-services/magnesium-leg-symptoms",
                    no_prefetch,
                    outcome_test(412, "prefetch.patient"),
                ),
                request(
                    "duplicate keys → 400",
                    "POST",
                    "/evaluate",
                    raw='{"resourceType": "Bundle", "resourceType": "Bundle"}',
                    tests=outcome_test(400, "duplicate key"),
                ),
            ],
        ),
    ]
    return {
        "info": {
            "name": "magnesium-cds",
            "description": "CDS Hooks 2.0 service on serum magnesium, magnesium-loss risk and leg symptoms. "
            "Built from fhir_samples/ by postman/build_collection.py. Set baseUrl (and fhirServer "
            "for the fallback request); with CDS_AUTH_MODE=jwt set clientJwt to a fresh token.",
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "variable": [
            {"key": "baseUrl", "value": "http://127.0.0.1:8080"},
            {"key": "fhirServer", "value": "http://127.0.0.1:8090/fhir"},
            {"key": "clientJwt", "value": ""},
            {"key": "cardUuid", "value": ""},
            {"key": "suggestionUuid", "value": ""},
        ],
        "event": [{"listen": "prerequest", "script": {"type": "text/javascript", "exec": PRE_REQUEST}}],
        "item": [{"name": name, "item": items} for name, items in folders],
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
