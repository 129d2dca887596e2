"""Small builders for the clinical scenario bundles (FHIR R4 collection Bundles about one patient).

Only codes marked V1/V2 in shared/reference/clinical-reference.md or present in rules/valuesets/ are
used as codings; every other concept (pregnancy, tetany, dialysis, levothyroxine, routes...) is sent
as CodeableConcept.text only, the way many EHRs send free-text entries.
"""

from __future__ import annotations

from typing import Any

LOINC = "http://loinc.org"
SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
UCUM = "http://unitsofmeasure.org"
OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"
CLIN = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
COND_CAT = "http://terminology.hl7.org/CodeSystem/condition-category"
INTERP = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"

MG_MMOL = ("2601-3", "Magnesium [Moles/volume] in Serum or Plasma")
MG_MASS = ("19123-9", "Magnesium [Mass/volume] in Serum or Plasma")
K_MMOL = ("2823-3", "Potassium [Moles/volume] in Serum or Plasma")
CA_ADJ = ("29265-6", "Calcium [Moles/volume] corrected for albumin in Serum or Plasma")
EGFR = ("98979-8", "eGFR CKD-EPI 2021 (creatinine)")
EGFR_CYS = ("98980-6", "eGFR CKD-EPI 2021 (creatinine and cystatin C)")
AUDIT_C = ("75626-2", "Total score [AUDIT-C]")

WHEN = "2026-11-10T08:30:00Z"  # default specimen time: five days before "now"
EGFR_UNIT = "mL/min/{1.73_m2}"

Coding = tuple[str, str, str]  # (system, code, display)


def concept(text: str, *codings: Coding) -> dict[str, Any]:
    cc: dict[str, Any] = {"text": text}
    if codings:
        cc["coding"] = [{"system": s, "code": c, "display": d} for s, c, d in codings]
    return cc


def quantity(value: float, unit: str | None) -> dict[str, Any]:
    q: dict[str, Any] = {"value": value}
    if unit is not None:
        q.update({"unit": unit, "system": UCUM, "code": unit})
    return q


class Chart:
    """One patient's record, built resource by resource."""

    def __init__(self, pid: str, birth_date: str, gender: str) -> None:
        self.pid = pid
        self.ref = {"reference": f"Patient/{pid}"}
        self.resources: list[dict[str, Any]] = [
            {
                "resourceType": "Patient",
                "id": pid,
                "name": [{"family": "Clinical", "given": [pid.split("-", maxsplit=1)[0].title()]}],
                "gender": gender,
                "birthDate": birth_date,
            }
        ]

    def add(self, resource: dict[str, Any]) -> dict[str, Any]:
        self.resources.append(resource)
        return resource

    def bundle(self) -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "id": f"clinical-{self.pid}",
            "type": "collection",
            "entry": [
                {"fullUrl": f"urn:uuid:{r['id']}", "resource": r}
                for r in self.resources  # ids are unique per bundle
            ],
        }

    # --- observations -------------------------------------------------------------------------------
    def lab(
        self,
        rid: str,
        code: tuple[str, str],
        value: float | None,
        unit: str | None,
        when: str = WHEN,
        ref_range: tuple[float, float] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "id": rid,
            "status": "final",
            "category": [{"coding": [{"system": OBS_CAT, "code": "laboratory"}]}],
            "code": concept(code[1].split(" [")[0], (LOINC, code[0], code[1])),
            "subject": self.ref,
            "effectiveDateTime": when,
            "issued": when,
        }
        if value is not None:
            obs["valueQuantity"] = quantity(value, unit)
        if ref_range is not None:
            obs["referenceRange"] = [{"low": quantity(ref_range[0], unit), "high": quantity(ref_range[1], unit)}]
        obs.update(extra)
        return self.add(obs)

    def mg(
        self,
        rid: str,
        value: float | None,
        unit: str | None = "mmol/L",
        when: str = WHEN,
        ref_range: tuple[float, float] | None = (0.70, 1.00),
        **extra: Any,
    ) -> dict[str, Any]:
        code = MG_MASS if unit in ("mg/dL", "mEq/L") else MG_MMOL
        return self.lab(rid, code, value, unit, when, ref_range, **extra)

    def potassium(self, rid: str, value: float, with_range: bool = True) -> dict[str, Any]:
        return self.lab(rid, K_MMOL, value, "mmol/L", ref_range=(3.5, 5.1) if with_range else None)

    def egfr(self, rid: str, value: float, when: str = WHEN, code: tuple[str, str] = EGFR) -> dict[str, Any]:
        return self.lab(rid, code, value, EGFR_UNIT, when)

    def note_obs(self, rid: str, text: str, value: dict[str, Any], when: str = WHEN) -> dict[str, Any]:
        """A text-coded observation (ABI, pregnancy status): no verified LOINC code exists in the reference."""
        return self.add(
            {
                "resourceType": "Observation",
                "id": rid,
                "status": "final",
                "code": {"text": text},
                "subject": self.ref,
                "effectiveDateTime": when,
                **value,
            }
        )

    # --- conditions --------------------------------------------------------------------------------
    def cond(
        self,
        rid: str,
        text: str,
        *codings: Coding,
        onset: str = "2026-09-01",
        status: str = "active",
        **extra: Any,
    ) -> dict[str, Any]:
        return self.add(
            {
                "resourceType": "Condition",
                "id": rid,
                "clinicalStatus": {"coding": [{"system": CLIN, "code": status}]},
                "verificationStatus": {"coding": [{"system": VER, "code": "confirmed"}]},
                "category": [{"coding": [{"system": COND_CAT, "code": "problem-list-item"}]}],
                "code": concept(text, *codings),
                "subject": self.ref,
                "onsetDateTime": onset,
                "recordedDate": onset,
                **extra,
            }
        )

    # --- medications -------------------------------------------------------------------------------
    def statement(
        self,
        rid: str,
        text: str,
        *codings: Coding,
        start: str = "2024-01-01",
        status: str = "active",
        route: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        ms: dict[str, Any] = {
            "resourceType": "MedicationStatement",
            "id": rid,
            "status": status,
            "medicationCodeableConcept": concept(text, *codings),
            "subject": self.ref,
            "effectivePeriod": {"start": start},
            "dateAsserted": "2026-10-01",
        }
        if route is not None:
            ms["dosage"] = [{"text": text, "route": {"text": route}}]
        ms.update(extra)
        return self.add(ms)

    def request(
        self,
        rid: str,
        text: str,
        *codings: Coding,
        status: str = "active",
        authored: str = "2024-01-01",
        route: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        mr: dict[str, Any] = {
            "resourceType": "MedicationRequest",
            "id": rid,
            "status": status,
            "intent": "order",
            "medicationCodeableConcept": concept(text, *codings),
            "subject": self.ref,
            "authoredOn": authored,
        }
        if route is not None:
            mr["dosageInstruction"] = [{"text": text, "route": {"text": route}}]
        mr.update(extra)
        return self.add(mr)

    def draft(self, rid: str, text: str, *codings: Coding, route: str | None = None, **extra: Any) -> dict[str, Any]:
        """A draft order being signed now (order-sign)."""
        return self.request(rid, text, *codings, status="draft", authored="2026-11-15", route=route, **extra)


def supply(days: int, repeats: int = 0) -> dict[str, Any]:
    return {
        "dispenseRequest": {
            "numberOfRepeatsAllowed": repeats,
            "expectedSupplyDuration": {"value": days, "unit": "days", "system": UCUM, "code": "d"},
        }
    }


# --- codings used across cases (all V1/V2 in the reference or present in rules/valuesets) ---------------
MGO = (RX, "6582", "magnesium oxide")
MGSO4 = (RX, "6585", "magnesium sulfate")
OMEPRAZOLE_20 = (RX, "198051", "Omeprazole 20 MG Delayed Release Oral Capsule")
HP_PACK = (
    RX,
    "1291986",
    "{4 (Amoxicillin 500 MG Oral Capsule) / 2 (Clarithromycin 500 MG Oral Tablet) / "
    "2 (Omeprazole 20 MG Delayed Release Oral Capsule) } Pack",
)
FUROSEMIDE_40 = (RX, "313988", "Furosemide 40 MG Oral Tablet")
HCTZ = (RX, "5487", "hydrochlorothiazide")
DIGOXIN = (RX, "3407", "digoxin")
CYCLOSPORINE = (RX, "3008", "cyclosporine")
ALENDRONATE = (RX, "46041", "alendronate")
TOBRAMYCIN = (RX, "10627", "tobramycin")
ATORVASTATIN = (RX, "83367", "atorvastatin")

LEG_CRAMP = (SCT, "449918009", "Cramp in lower leg")
CRAMP_ICD = (ICD, "R25.2", "Cramp and spasm")
CROHNS = (SCT, "34000006", "Crohn's disease")
HYPOMG = (ICD, "E83.42", "Hypomagnesemia")
ESRD = (ICD, "N18.6", "End stage renal disease")
CKD4 = (SCT, "431857002", "Chronic kidney disease stage 4")
PAIN_L_LEG = (ICD, "M79.605", "Pain in left leg")
PAIN_R_LOWER_LEG = (ICD, "M79.661", "Pain in right lower leg")
PAIN_LEG = (ICD, "M79.606", "Pain in leg, unspecified")
T2DM = (SCT, "44054006", "Diabetes mellitus type 2")
