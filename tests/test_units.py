from __future__ import annotations

import pytest

from service.core.units import MEQ_PER_L, MG_PER_DL, MMOL_PER_L, MgConverter, normalise_unit

MG = MgConverter(molar_mass=24.305, valence=2)


@pytest.mark.parametrize(
    ("code", "unit", "expected"),
    [
        ("mg/dL", None, MG_PER_DL),
        ("mg/dl", None, MG_PER_DL),
        (None, "mg/dL", MG_PER_DL),
        ("mmol/L", "mmol/L", MMOL_PER_L),
        ("mmol/l", None, MMOL_PER_L),
        ("meq/L", None, MEQ_PER_L),
        (None, "mEq/L", MEQ_PER_L),
        ("mg", "mg", None),
        ("umol/L", None, None),
        (None, None, None),
    ],
)
def test_normalise_unit_prefers_ucum_code_and_knows_display_forms(
    code: str | None, unit: str | None, expected: str | None
) -> None:
    assert normalise_unit(code, unit) == expected


@pytest.mark.parametrize(
    ("value", "unit", "mmol"),
    [
        (2.07, MG_PER_DL, 0.85),  # Rosanoff 2022: 0.85 mmol/L = 2.07 mg/dL
        (1.82, MG_PER_DL, 0.75),  # IOM: 0.75 mmol/L ≈ 1.8 mg/dL
        (1.7, MEQ_PER_L, 0.85),  # 0.85 mmol/L = 1.7 mEq/L
        (0.9, MMOL_PER_L, 0.9),
    ],
)
def test_mg_conversions_match_the_clinical_reference(value: float, unit: str, mmol: float) -> None:
    assert MG.to_mmol(value, unit) == pytest.approx(mmol, abs=0.005)


def test_mg_conversion_round_trips() -> None:
    for unit in (MG_PER_DL, MMOL_PER_L, MEQ_PER_L):
        assert MG.to_mmol(MG.from_mmol(0.8, unit), unit) == pytest.approx(0.8)


def test_unknown_unit_is_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        MG.to_mmol(1.0, "mg/L")
