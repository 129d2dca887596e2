"""The knowledge base loads, and a bad rules file stops startup with a message naming file and field."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from service import create_app
from service.core.errors import RulesError
from service.core.knowledge import KnowledgeBase
from service.rules_loader import DEFAULT_RULES_DIR, load_knowledge_base


def test_rules_load_with_every_required_entry(kb: KnowledgeBase) -> None:
    assert set(kb.cards) == {
        "mg-low",
        "mg-low-normal",
        "mg-normal-with-risk",
        "mg-high",
        "mg-obstetric-monitoring",
        "mg-unreadable",
        "mg-not-measured",
        "leg-red-flag",
        "leg-differential",
        "mg-supplement-safety",
        "order-mg-wasting-drug",
        "order-mg-supplement",
    }
    assert kb.valuesets["serum-magnesium"].contains("http://loinc.org", "19123-9")
    assert not kb.valuesets["serum-magnesium"].contains("http://loinc.org", "2597-3")
    assert kb.threshold("serum-mg-low") == 0.75


def test_every_threshold_and_statement_cites_a_known_source(kb: KnowledgeBase) -> None:
    for item in [*kb.thresholds.values(), *kb.constants.values(), *kb.statements.values(), *kb.serum_mg_bands]:
        assert item.sources and all(s in kb.citations for s in item.sources)


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


BREAKAGES: list[tuple[str, Callable[[Path], None], str]] = [
    (
        "unknown key",
        lambda r: edit(r / "thresholds.yaml", '    unit: "mmol/L"', '    unit: "mmol/L"\n    unti: x'),
        r"thresholds\.yaml: thresholds\.serum-mg-low\.unti: Unknown field",
    ),
    (
        "missing threshold",
        lambda r: edit(r / "thresholds.yaml", "serum-mg-critical-high:", "serum-mg-crit-high:"),
        r"thresholds\.yaml: thresholds: missing required entries serum-mg-critical-high",
    ),
    (
        "unknown citation",
        lambda r: edit(r / "statements.yaml", "[cochrane-2020]", "[cochrane-2021]"),
        r"statements\.yaml: statements\.cramps-counter-evidence\.sources: unknown citation\(s\) cochrane-2021",
    ),
    (
        "unknown placeholder",
        lambda r: edit(r / "cards.yaml", 'mg: "Low Mg {mg}"', 'mg: "Low Mg {when}"'),
        r"cards\.yaml: cards\.mg-low\.summary\.mg: unknown placeholder\(s\) when",
    ),
    (
        "summary too long",
        lambda r: edit(r / "cards.yaml", 'mg: "Low Mg {mg}"', 'mg: "' + "L" * 110 + ' {mg}"'),
        r"cards\.yaml: cards\.mg-low\.summary\.mg: summary part can reach",
    ),
    (
        "missing statement the engine names",
        lambda r: edit(r / "statements.yaml", "  do-assess-dvt:", "  do-assess-dvt-typo:"),
        r"statements\.yaml: statements: missing required entries do-assess-dvt",
    ),
    (
        "missing summary part",
        lambda r: edit(r / "cards.yaml", '      dvt: "Calf pain', '      dvtt: "Calf pain'),
        r"cards\.yaml: cards\.leg-red-flag\.summary: missing part\(s\) dvt",
    ),
    (
        "unknown placeholder in a statement",
        lambda r: edit(r / "statements.yaml", "Stop magnesium products: {mg_products}.", "Stop {productz}."),
        r"statements\.yaml: statements\.do-stop-mg-products\.text: unknown placeholder\(s\) productz",
    ),
    (
        "test not orderable",
        lambda r: edit(r / "cards.yaml", '{code: "2823-3"', '{code: "2160-0x"'),
        r"cards\.yaml: tests\.potassium\.code: 2160-0x is not in an orderable value set",
    ),
    (
        "bad name pattern",
        lambda r: edit(r / "matchers.yaml", "patterns: ['^\\s*magnesium", "patterns: ['(^\\s*magnesium"),
        r"matchers\.yaml: medications\.mg-supplement\.patterns\.0: not a valid regular expression",
    ),
    (
        "missing matcher class",
        lambda r: edit(r / "matchers.yaml", "  digoxin:\n", "  digoxine:\n"),
        r"matchers\.yaml: medications: missing required entries digoxin",
    ),
    (
        "missing fact template",
        lambda r: edit(r / "cards.yaml", '  egfr: "eGFR {value}', '  egfrr: "eGFR {value}'),
        r"cards\.yaml: facts: missing required entries egfr",
    ),
    (
        "unsupported value-set filter",
        lambda r: edit(r / "valuesets" / "ppi.json", '"op": "is-a"', '"op": "regex"'),
        r"valuesets/ppi\.json: compose\.include\[1\]\.filter\[0\] \(A02BC\): only 'concept is-a' filters",
    ),
    (
        "bad yaml",
        lambda r: edit(r / "citations.yaml", "citations:", "citations: [unclosed"),
        r"citations\.yaml: not valid YAML",
    ),
    (
        "unverified code",
        lambda r: edit(r / "valuesets" / "non-serum-magnesium.json", '"valueCode": "V2"', '"valueCode": "UNVERIFIED"'),
        r"valuesets/non-serum-magnesium\.json: compose\.include\[0\]\.concept\[1\] \(26746-8\): needs a verification",
    ),
    (
        "invalid FHIR value set",
        lambda r: edit(r / "valuesets" / "serum-magnesium.json", '"date": "2026-11-22"', '"date": "yesterday"'),
        r"valuesets/serum-magnesium\.json: date",
    ),
    (
        "bands out of order",
        lambda r: edit(r / "thresholds.yaml", "below_mmol: 0.60", "below_mmol: 0.45"),
        r"thresholds\.yaml: serum_mg_bands\.2\.below_mmol: bands must increase",
    ),
]


@pytest.mark.parametrize(("name", "breakage", "message"), BREAKAGES, ids=[b[0] for b in BREAKAGES])
def test_bad_rules_stop_the_service_naming_file_and_field(
    rules: Path, name: str, breakage: Callable[[Path], None], message: str
) -> None:
    breakage(rules)
    with pytest.raises(RulesError, match=message):
        load_knowledge_base(rules)
    with pytest.raises(RulesError, match=message):
        create_app({"RULES_DIR": str(rules), "AUTH_MODE": "off"})


def test_value_set_json_must_parse(rules: Path) -> None:
    (rules / "valuesets" / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(RulesError, match=r"valuesets/broken\.json: cannot read as JSON"):
        load_knowledge_base(rules)


def test_value_sets_carry_provenance(kb: KnowledgeBase) -> None:
    for path in sorted((DEFAULT_RULES_DIR / "valuesets").glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert doc["description"] and doc["date"] and doc["version"]
        assert any(e["url"] == "urn:magnesium-cds:extension:source" for e in doc["extension"])


def test_one_service_id_under_two_hooks_dispatches_on_the_hook(rules: Path) -> None:
    """Checklist D-06: discovery may list the same id for different hooks; POST dispatches on (id, hook)."""
    text = (rules / "services.yaml").read_text(encoding="utf-8")
    (rules / "services.yaml").write_text(
        text.replace("  - id: magnesium-order-sign\n", "  - id: magnesium-leg-symptoms\n"), encoding="utf-8"
    )
    client = create_app(
        {"RULES_DIR": str(rules), "FIXED_NOW": "2026-11-15T00:00:00Z", "AUTH_MODE": "off"}
    ).test_client()
    hooks = [s["hook"] for s in client.get("/cds-services").json["services"] if s["id"] == "magnesium-leg-symptoms"]
    assert hooks == ["patient-view", "order-sign"]
    samples = DEFAULT_RULES_DIR.parent / "fhir_samples"
    patient_view = json.loads((samples / "mg-low" / "patient-view.json").read_text(encoding="utf-8"))
    order_sign = json.loads((samples / "order-sign-diuretic-low-mg" / "order-sign.json").read_text(encoding="utf-8"))
    first = client.post("/cds-services/magnesium-leg-symptoms", json=patient_view).json["cards"]
    second = client.post("/cds-services/magnesium-leg-symptoms", json=order_sign).json["cards"]
    assert [c["source"]["topic"]["code"] for c in first] == ["mg-low"]
    assert [c["source"]["topic"]["code"] for c in second] == ["order-mg-wasting-drug"]
