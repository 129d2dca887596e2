"""rules/valuesets/*.json stay what tools/build_valuesets.py derives from shared/ and the reference."""

from __future__ import annotations

import json

import pytest

from tools import build_valuesets
from tools.build_valuesets import DEFS, OUT, RXNORM, render


@pytest.mark.parametrize("vs_id", sorted(DEFS))
def test_committed_value_set_matches_its_derivation(vs_id: str) -> None:
    committed = (OUT / f"{vs_id}.json").read_text(encoding="utf-8")
    assert committed == render(vs_id), "run: .venv/bin/python tools/build_valuesets.py"


def test_ppi_value_set_holds_every_pddi_product_code() -> None:
    ppi = json.loads((OUT / "ppi.json").read_text(encoding="utf-8"))
    codes = {c["code"] for inc in ppi["compose"]["include"] if inc["system"] == RXNORM for c in inc["concept"]}
    for name in build_valuesets.PDDI_SETS["ppi"]:
        concepts, _, _ = build_valuesets._pddi(name)
        assert {code for _, code, _ in concepts} <= codes
    assert "198051" in codes  # omeprazole 20 MG DR capsule (an SCD)


def test_red_cell_potassium_and_creatinine_are_left_out_of_lab_sets() -> None:
    potassium = json.loads((OUT / "potassium.json").read_text(encoding="utf-8"))
    egfr = json.loads((OUT / "egfr.json").read_text(encoding="utf-8"))
    k_codes = {c["code"] for inc in potassium["compose"]["include"] for c in inc.get("concept", [])}
    egfr_codes = {c["code"] for inc in egfr["compose"]["include"] for c in inc.get("concept", [])}
    assert "2824-1" not in k_codes and "2823-3" in k_codes
    assert "2160-0" not in egfr_codes and "33914-3" in egfr_codes and "98979-8" in egfr_codes
