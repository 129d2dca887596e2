"""Unit handling for serum magnesium: conversions are driven by the value's UCUM unit, never by LOINC.

Some senders put mg/dL values under the mmol/L LOINC code (clinical reference §1a), so the code that was
measured says nothing reliable about the unit it was reported in.
"""

from __future__ import annotations

from dataclasses import dataclass

MG_PER_DL = "mg/dL"
MMOL_PER_L = "mmol/L"
MEQ_PER_L = "meq/L"

# UCUM codes accepted on input, keyed case-insensitively; values are the UCUM code we emit.
# "mEq/L" is the common display form of UCUM "meq/L" (clinical reference §2a).
_ALIASES: dict[str, str] = {
    "mg/dl": MG_PER_DL,
    "mmol/l": MMOL_PER_L,
    "meq/l": MEQ_PER_L,
}


def normalise_unit(code: str | None, unit: str | None) -> str | None:
    """Return the canonical UCUM code for a Quantity's code (preferred) or unit text, if known."""
    for candidate in (code, unit):
        if candidate:
            known = _ALIASES.get(candidate.strip().lower())
            if known:
                return known
    return None


@dataclass(frozen=True, slots=True)
class MgConverter:
    """Converts serum magnesium between mg/dL, mmol/L and mEq/L from the molar mass and valence."""

    molar_mass: float  # g/mol
    valence: float

    def to_mmol(self, value: float, unit: str) -> float:
        if unit == MMOL_PER_L:
            return value
        if unit == MG_PER_DL:
            # mg/dL → mg/L (x10) → mmol/L (÷ g/mol)
            return value * 10.0 / self.molar_mass
        if unit == MEQ_PER_L:
            return value / self.valence
        raise ValueError(f"unsupported magnesium unit {unit!r}")

    def from_mmol(self, mmol: float, unit: str) -> float:
        if unit == MMOL_PER_L:
            return mmol
        if unit == MG_PER_DL:
            return mmol * self.molar_mass / 10.0
        if unit == MEQ_PER_L:
            return mmol * self.valence
        raise ValueError(f"unsupported magnesium unit {unit!r}")
