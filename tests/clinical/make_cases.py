"""Write the clinical scenario cases (tests/clinical/cases/<id>/bundle.json + case.json).

The cases are written from the clinical question (issue 10, rules 1-13), not from the service's output.
Edit a case here, then regenerate:

    .venv/bin/python -m tests.clinical.make_cases

tests/test_clinical_scenarios.py fails when a committed case differs from what this script writes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from .chart import (
    ALENDRONATE,
    ATC,
    ATORVASTATIN,
    AUDIT_C,
    CA_ADJ,
    CKD4,
    CRAMP_ICD,
    CROHNS,
    CYCLOSPORINE,
    DIGOXIN,
    EGFR_CYS,
    ESRD,
    FUROSEMIDE_40,
    HCTZ,
    HP_PACK,
    HYPOMG,
    ICD,
    INTERP,
    LEG_CRAMP,
    MGO,
    MGSO4,
    OMEPRAZOLE_20,
    PAIN_L_LEG,
    PAIN_LEG,
    PAIN_R_LOWER_LEG,
    SCT,
    T2DM,
    TOBRAMYCIN,
    Chart,
    quantity,
    supply,
)

NOW = "2026-11-15T00:00:00Z"
CASES_DIR = Path(__file__).resolve().parent / "cases"
ADULT = "1968-03-14"  # 58 years old at NOW: no age-related contextual risk
OLDER = "1950-06-02"  # 76 years old

# Text alternatives used by several cases (each inner list: at least one must appear).
ECG = ["ECG", "electrocardiogram", "EKG"]
# Short tokens carry their spaces/brackets: matching is case-insensitive substring ("active " contains "iv ").
IV = ["intravenous", "IV magnesium", "magnesium IV", " IV ", "(IV", "IV)", " IV,", " IV.", "i.v."]
POTASSIUM = ["potassium", "hypokal", "K+", " K ", "(K)", " K,"]
CALCIUM = ["calcium", "hypocalc"]
PHOSPHATE = ["phosphate", "phosphorus"]
ORAL = ["oral", "by mouth"]
RECHECK = ["recheck", "re-check", "repeat", "follow-up", "follow up", "monitor"]
DVT = ["DVT", "deep vein", "deep-vein", "venous thrombo"]
D_DIMER = ["D-dimer", "D dimer", "Ddimer"]
ULTRASOUND = ["ultrasound", "duplex", "compression"]
VASCULAR = ["vascular"]
URGENT = ["urgent", "same-day", "same day", "promptly", "expedite"]
EMERGENCY = ["emergency", "emergent", "immediate", "999", "911"]
FOOD_FIRST = ["food-first", "food first"]
CALCIUM_GLUCONATE = ["calcium gluconate", "calcium chloride", "IV calcium", "intravenous calcium"]
REFLEX = ["reflex"]
RESPIRATION = ["respirat", "breathing"]
ABI_REQUEST = [
    "check an ABI",
    "order an ABI",
    "obtain an ABI",
    "measure an ABI",
    "check ABI",
    "order ABI",
    "consider an ABI",
    "ankle-brachial index is recommended",
]
NOT_MEASURED_WORDING = ["no serum magnesium", "not measured", "no magnesium result", "no recent magnesium"]
TOTAL_BODY = ["total body"]
PAEDS_ADULT_ONLY = ["older adult", "age 65", "aged 65", "≥65", "≥ 65", ">= 65", "over 65", "65 or older"]

SRC_IOM = "IOM Dietary Reference Intakes 1997, ch. 6 Magnesium — https://www.nap.edu/read/5776/chapter/8"
SRC_ODS = "NIH ODS Magnesium Fact Sheet for Health Professionals — https://ods.od.nih.gov/factsheets/Magnesium-HealthProfessional/"
SRC_HUANG = (
    "Huang CL, Kuo E. Mechanism of hypokalemia in magnesium deficiency. J Am Soc Nephrol 2007;18:2649 — "
    "https://pubmed.ncbi.nlm.nih.gov/17804670/"
)
SRC_SMPC_MGSO4 = "UK SmPC magnesium sulfate injection (eMC 2678) — https://www.medicines.org.uk/emc/product/2678/smpc"
SRC_MAGNASPARTATE = (
    "MHRA SmPC Magnaspartate (contraindicated GFR < 30 mL/min) — "
    "https://www.rxreasoner.com/monographs/magnaspartate/precautions"
)
SRC_KDIGO = (
    "KDIGO 2012 CKD guideline, Kidney Int Suppl 2013;3 — https://kdigo.org/guidelines/ckd-evaluation-and-management/"
)
SRC_FDA_PPI = (
    "FDA Drug Safety Communication 2011-03-02 (long-term PPI and low magnesium) — "
    "https://www.fda.gov/drugs/drug-safety-and-availability/"
    "fda-drug-safety-communication-low-magnesium-levels-can-be-associated-long-term-use-proton-pump"
)
SRC_ACOG = (
    "ACOG Practice Bulletin 222, Gestational hypertension and preeclampsia (2020) — "
    "https://www.acog.org/clinical/clinical-guidance/practice-bulletin/articles/2020/06/"
    "gestational-hypertension-and-preeclampsia"
)
SRC_NICE_PET = "NICE NG133 Hypertension in pregnancy (2019, magnesium sulfate) — https://www.nice.org.uk/guidance/ng133"
SRC_NICE_VTE = (
    "NICE NG158 Venous thromboembolic diseases: diagnosis (two-level Wells, D-dimer, proximal leg vein "
    "ultrasound) — https://www.nice.org.uk/guidance/ng158"
)
SRC_ESVS_ALI = (
    "ESVS 2020 Clinical Practice Guidelines on the Management of Acute Limb Ischaemia, Eur J Vasc Endovasc "
    "Surg 2020;59:173 — https://doi.org/10.1016/j.ejvs.2019.09.006"
)
SRC_AHA_PAD = (
    "2016 AHA/ACC Guideline on Lower Extremity PAD, Circulation 2017;135:e726 — "
    "https://pmc.ncbi.nlm.nih.gov/articles/PMC5477786/"
)
SRC_CLTI = (
    "Global Vascular Guidelines on Chronic Limb-Threatening Ischemia, J Vasc Surg 2019;69:3S — "
    "https://doi.org/10.1016/j.jvs.2019.02.016"
)
SRC_NASS = (
    "NASS evidence-based guideline, degenerative lumbar spinal stenosis (Kreiner DS, Spine J 2013;13:734) — "
    "https://doi.org/10.1016/j.spinee.2012.11.059"
)
SRC_AFP = (
    "Allen RE, Kirby KA. Nocturnal leg cramps. Am Fam Physician 2012;86:350 — https://pubmed.ncbi.nlm.nih.gov/22963024/"
)
SRC_COCHRANE = (
    "Garrison SR et al. Magnesium for skeletal muscle cramps. Cochrane Database Syst Rev 2020;9:CD009402 — "
    "https://pmc.ncbi.nlm.nih.gov/articles/PMC8094171/"
)
SRC_FHIR_OBS = (
    "HL7 FHIR R4 Observation.status (amended/corrected) — https://hl7.org/fhir/R4/valueset-observation-status.html"
)
SRC_FHIR_QTY = "HL7 FHIR R4 Quantity.comparator — https://hl7.org/fhir/R4/datatypes.html#Quantity"
SRC_FHIR_DT = (
    "HL7 FHIR R4 dateTime (time zone SHALL be populated with a time) — https://hl7.org/fhir/R4/datatypes.html#dateTime"
)
SRC_DIGOXIN = (
    "Lanoxin (digoxin) US prescribing information §5 (hypomagnesemia and hypokalemia predispose to "
    "toxicity) — https://dailymed.nlm.nih.gov/dailymed/search.cfm?query=lanoxin"
)
SRC_ROSANOFF = (
    "Rosanoff A et al. Essential to lead a healthy life: the reference interval of serum magnesium. "
    "Eur J Nutr 2022;61:3697 — https://doi.org/10.1007/s00394-022-02916-w"
)
SRC_ICD_Z = "ICD-10-CM Tabular List Z80-Z84 (Family history) and F10.21 (in remission) — https://www.cdc.gov/nchs/icd/icd-10-cm/"
SRC_AUDIT = (
    "Bush K et al. The AUDIT alcohol consumption questions (AUDIT-C). Arch Intern Med 1998;158:1789 — "
    "https://pubmed.ncbi.nlm.nih.gov/9738608/"
)
SRC_WHO_ATC = "WHO ATC/DDD index A06AD osmotically acting laxatives — https://atcddd.fhi.no/atc_ddd_index/?code=A06AD"


def card(
    topic: str,
    indicator: str,
    text_all: list[list[str]] | None = None,
    text_none: list[str] | None = None,
    suggestion: bool | None = None,
    no_delete: bool = False,
) -> dict[str, Any]:
    c: dict[str, Any] = {"topic": topic, "indicator": indicator}
    if text_all:
        c["text_all"] = text_all
    if text_none:
        c["text_none"] = text_none
    if suggestion is not None:
        c["suggestion"] = suggestion
    if no_delete:
        c["no_delete_suggestion"] = True
    return c


def expect(
    *cards: dict[str, Any],
    absent: list[str] | None = None,
    no_cards: bool = False,
    none_anywhere: list[str] | None = None,
) -> dict[str, Any]:
    e: dict[str, Any] = {"cards": list(cards), "absent_topics": absent or [], "no_cards": no_cards}
    if none_anywhere:
        e["any_card_text_none"] = none_anywhere
    return e


CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}


def case(
    cid: str,
    requirement: str,
    title: str,
    rationale: str,
    source: str,
    chart: Chart,
    expectation: dict[str, Any],
    hook: str = "patient-view",
    invalid: list[str] | None = None,
) -> None:
    assert cid not in CASES, cid
    meta: dict[str, Any] = {
        "requirement": requirement,
        "title": title,
        "rationale": rationale,
        "source": source,
        "hook": hook,
        "now": NOW,
        "expect": expectation,
    }
    if invalid:
        meta["deliberately_invalid"] = invalid
    CASES[cid] = (chart.bundle(), meta)


# =====================================================================================================
# 1. Severity-tiered advice for low magnesium
# =====================================================================================================
c = Chart("ava-r0101", ADULT, "female")
c.mg("mg-ava", 0.37)
case(
    "r01-mg-0.37-critical",
    "1",
    "Serum Mg 0.37 mmol/L: critical, ECG, IV magnesium sulfate, check K/Ca/phosphate, find the cause",
    "Mg < 0.5 mmol/L (here < 0.4) carries a risk of arrhythmia and seizures. A careful physician gets an ECG, "
    "checks potassium, calcium and phosphate (hypokalaemia is refractory until Mg is repleted; Mg deficiency "
    "impairs PTH), gives IV magnesium sulfate per protocol and looks for the cause. Food-first advice is wrong "
    "at this level.",
    f"{SRC_HUANG}; {SRC_SMPC_MGSO4}; {SRC_IOM} p.203",
    c,
    expect(
        card(
            "mg-low",
            "critical",
            [ECG, IV, POTASSIUM, CALCIUM, PHOSPHATE, ["cause", "drug", "medication", "alcohol", "diarrh"]],
            FOOD_FIRST,
        )
    ),
)

c = Chart("ben-r0102", ADULT, "male")
c.mg("mg-ben", 0.62)
case(
    "r01-mg-0.62-warning-oral",
    "1",
    "Serum Mg 0.62 mmol/L: warning with oral repletion (elemental dose, split), recheck; not food-first",
    "0.50-0.75 mmol/L is moderate/mild hypomagnesaemia: oral elemental magnesium in divided doses (GI side "
    "effects limit the dose), then a repeat level. Diet alone is advice for low-normal values, not for "
    "documented hypomagnesaemia.",
    f"{SRC_IOM} p.203; {SRC_ODS}; {SRC_HUANG}",
    c,
    expect(card("mg-low", "warning", [ORAL, ["elemental"], RECHECK], FOOD_FIRST)),
)

c = Chart("cal-r0103", ADULT, "male")
c.mg("mg-cal", 0.4, valueQuantity={**quantity(0.4, "mmol/L"), "comparator": "<"})
case(
    "r01-comparator-below-0.4",
    "1",
    "Result '<0.4 mmol/L' (below the reporting limit) is reported as '< 0.4' and banded critical",
    "A value below the analyser's reporting limit is lower than 0.4 mmol/L, i.e. severe hypomagnesaemia; "
    "reading it as exactly 0.40 understates it, and the card must show the comparator.",
    f"{SRC_FHIR_QTY}; {SRC_HUANG}",
    c,
    expect(card("mg-low", "critical", [["< 0.4", "<0.4", "< 0.40", "<0.40", "below 0.4", "less than 0.4"], ECG])),
)

c = Chart("dan-r0104", ADULT, "male")
c.mg("mg-dan", 4.0, valueQuantity={**quantity(4.0, "mmol/L"), "comparator": ">"})
c.statement("ms-dan-mgo", "Magnesium oxide 400 MG Oral Tablet", MGO, start="2026-06-01")
case(
    "r01-comparator-above-never-low",
    "1",
    "Result '>4.0 mmol/L' is above the analytical range: never 'low'; it is severe hypermagnesaemia",
    "A '>' comparator means the true value is above the number. Reading '>4.0' as anything but very high "
    "would be dangerous; > 1.74 mmol/L is the symptomatic/toxic range.",
    f"{SRC_FHIR_QTY}; {SRC_ODS} (toxicity above 1.74-2.61 mmol/L)",
    c,
    expect(card("mg-high", "critical"), absent=["mg-low", "mg-low-normal"]),
)

c = Chart("eve-r0105", ADULT, "female")
c.mg("mg-eve", 0.62)
c.request("mr-eve-dig", "Digoxin 0.125 MG Oral Tablet", DIGOXIN, authored="2022-02-01")
case(
    "r01-mg-0.62-on-digoxin-critical",
    "1, 8",
    "Mg 0.62 mmol/L while on digoxin: critical, digoxin named",
    "Hypomagnesaemia potentiates digoxin toxicity (arrhythmia); with digoxin active, moderate hypomagnesaemia "
    "is treated as urgent and the card must say why (digoxin).",
    f"{SRC_DIGOXIN}; {SRC_FDA_PPI}",
    c,
    expect(card("mg-low", "critical", [["digoxin"], ECG])),
)

c = Chart("fay-r0106", ADULT, "female")
c.mg("mg-fay", 0.62)
c.cond("cond-fay-tetany", "Tetany", onset="2026-11-09")
case(
    "r01-symptomatic-tetany-critical",
    "1",
    "Mg 0.62 mmol/L with tetany on the problem list: symptomatic, so critical",
    "Tetany is neuromuscular hyperexcitability from hypomagnesaemia (often with hypocalcaemia); a "
    "symptomatic patient needs urgent treatment (IV) and calcium checked whatever the number.",
    f"{SRC_HUANG}; {SRC_SMPC_MGSO4}",
    c,
    expect(card("mg-low", "critical", [CALCIUM, IV])),
)

c = Chart("gus-r0107", ADULT, "male")
c.mg("mg-gus", 0.62)
c.request("mr-gus-sotalol", "Sotalol hydrochloride 80 MG Oral Tablet", authored="2025-03-01")
case(
    "r01-mg-0.62-on-qt-drug-critical",
    "1",
    "Mg 0.62 mmol/L on sotalol (QT-prolonging): critical, ECG",
    "Hypomagnesaemia with a QT-prolonging drug raises the risk of torsades de pointes; an ECG (QTc) and prompt "
    "repletion are needed.",
    f"{SRC_SMPC_MGSO4}; {SRC_HUANG}",
    c,
    expect(card("mg-low", "critical", [ECG, ["QT", "torsade"]])),
)

c = Chart("hal-r0108", ADULT, "male")
c.mg("mg-hal", 1.5, "mg/dL", ref_range=(1.6, 2.6))
case(
    "r01-mgdl-1.5-with-lab-range",
    "1",
    "Mg 1.5 mg/dL (0.62 mmol/L), lab range 1.6-2.6 mg/dL: warning, oral repletion",
    "1.5 mg/dL is below the lab range and below 1.8 mg/dL (0.75 mmol/L): mild-moderate hypomagnesaemia; the "
    "card should be a warning about oral repletion, not critical and not food-first.",
    f"{SRC_IOM} p.203 (0.75 mmol/L = 1.8 mg/dL)",
    c,
    expect(card("mg-low", "warning", [ORAL], FOOD_FIRST)),
)

c = Chart("ida-r0109", ADULT, "female")
c.mg("mg-ida", 1.1, "mg/dL", ref_range=(1.6, 2.6))
case(
    "r01-mgdl-1.1-critical",
    "1",
    "Mg 1.1 mg/dL (0.45 mmol/L): critical",
    "1.1 mg/dL converts to 0.45 mmol/L (x 0.4114): below 0.5 mmol/L, usually symptomatic, needs IV treatment "
    "and an ECG.",
    f"{SRC_IOM}; DynaMed/NHS Lothian via clinical-reference §2c; {SRC_HUANG}",
    c,
    expect(card("mg-low", "critical", [ECG, IV], FOOD_FIRST)),
)

# =====================================================================================================
# 2. Hypermagnesaemia
# =====================================================================================================
c = Chart("jon-r0201", ADULT, "male")
c.mg("mg-jon", 1.40)
c.egfr("egfr-jon", 52)
c.statement("ms-jon-mgo", "Magnesium oxide 400 MG Oral Tablet", MGO, start="2026-03-01")
c.statement("ms-jon-ppi", "Omeprazole 20 MG Delayed Release Oral Capsule", OMEPRAZOLE_20, start="2022-01-01")
case(
    "r02-high-names-products-no-loss-text",
    "2",
    "Mg 1.40 mmol/L on magnesium oxide: warning, stop Mg products (named), renal function, consider haemolysis",
    "Above the range, the first step is to stop magnesium-containing products (naming the one in the record), "
    "check renal function and exclude a haemolysed sample. 'Serum may not reflect total body stores' and "
    "Mg-loss risk factors (the PPI here) are irrelevant and confusing on a HIGH-magnesium card.",
    f"{SRC_ODS}; Medscape eMedicine 766604 (hypermagnesemia); clinical-reference §2c (haemolysis)",
    c,
    expect(
        card(
            "mg-high",
            "warning",
            [
                ["magnesium oxide"],
                ["stop", "discontinue", "hold"],
                ["renal", "kidney", "eGFR", "creatinine"],
                ["haemoly", "hemoly"],
            ],
            [*TOTAL_BODY, "proton pump", "magnesium loss", "Mg loss", "Mg-loss"],
        ),
        absent=["mg-low", "mg-low-normal"],
    ),
)

c = Chart("kay-r0202", OLDER, "female")
c.mg("mg-kay", 2.3)
c.egfr("egfr-kay", 21)
c.statement("ms-kay-moh", "Magnesium hydroxide 400 MG/5 ML Oral Suspension (Milk of Magnesia)", start="2026-01-01")
case(
    "r02-severe-high-calcium-gluconate",
    "2",
    "Mg 2.3 mmol/L with eGFR 21 on milk of magnesia: critical; calcium gluconate, dialysis, reflexes, ECG",
    "2.3 mmol/L is in the toxic range (loss of reflexes, hypotension, respiratory depression, heart block). "
    "Stop the product, check reflexes/BP/respiration/ECG; IV calcium gluconate antagonises Mg and dialysis "
    "removes it when renal function is poor.",
    f"{SRC_ODS}; {SRC_SMPC_MGSO4} (overdose: IV calcium); Medscape eMedicine 766604",
    c,
    expect(
        card(
            "mg-high",
            "critical",
            [CALCIUM_GLUCONATE, ["dialysis"], REFLEX, ECG, RESPIRATION, ["magnesium hydroxide", "milk of magnesia"]],
            TOTAL_BODY,
        ),
        absent=["mg-low"],
    ),
)

c = Chart("lea-r0203", ADULT, "female")
c.mg("mg-lea", 3.2, "mg/dL", ref_range=(1.6, 2.6))
case(
    "r02-high-mgdl-no-products-haemolysis",
    "2",
    "Mg 3.2 mg/dL (1.32 mmol/L) with no Mg product: warning; consider haemolysis, check renal function",
    "An unexpected mild hypermagnesaemia without intake is often a haemolysed sample or reduced renal "
    "excretion; a repeat sample and renal function are the sensible next steps.",
    f"{SRC_ODS}; clinical-reference §2c (haemolysis falsely raises Mg)",
    c,
    expect(
        card("mg-high", "warning", [["haemoly", "hemoly"], ["renal", "kidney", "eGFR", "creatinine"]], TOTAL_BODY),
        absent=["mg-low", "mg-low-normal", "mg-normal-with-risk"],
    ),
)

# =====================================================================================================
# 3. Pregnancy and magnesium sulfate therapy
# =====================================================================================================
PREG_ONSET = "2026-04-20"


def pregnant(pid: str) -> Chart:
    ch = Chart(pid, "1995-02-11", "female")
    ch.cond(f"cond-{pid}-preg", "Pregnancy, third trimester (32 weeks)", onset=PREG_ONSET)
    ch.note_obs(f"obs-{pid}-pregstatus", "Pregnancy status", {"valueCodeableConcept": {"text": "Pregnant"}})
    return ch


c = pregnant("mia-r0301")
c.cond("cond-mia-pet", "Severe pre-eclampsia", onset="2026-11-13")
c.request(
    "mr-mia-mgso4",
    "Magnesium sulfate 4 g IV loading dose then 1 g/hour intravenous infusion",
    MGSO4,
    authored="2026-11-13",
    route="Intravenous",
)
c.mg("mg-mia", 2.5, when="2026-11-14T18:00:00Z")
case(
    "r03-preeclampsia-mgso4-therapeutic",
    "3",
    "Severe pre-eclampsia on IV MgSO4 with Mg 2.5 mmol/L: obstetric therapeutic monitoring, never 'toxic'/'stop'",
    "2.0-3.5 mmol/L (4.8-8.4 mg/dL) is the intended therapeutic range for seizure prophylaxis. The right card "
    "is monitoring: patellar reflexes, respiratory rate, urine output, calcium gluconate at the bedside. "
    "Calling it toxic or advising to stop would withdraw eclampsia prophylaxis.",
    f"{SRC_ACOG}; {SRC_NICE_PET}",
    c,
    expect(
        card(
            "mg-obstetric-monitoring",
            "info",
            [
                REFLEX,
                ["respiratory rate", "respiration", "breathing"],
                ["urine output", "urine", "urinary output"],
                ["calcium gluconate"],
            ],
            ["toxic", "stop"],
        ),
        absent=["mg-high", "mg-supplement-safety"],
        none_anywhere=["toxic"],
    ),
)

c = pregnant("nia-r0302")
c.cond("cond-nia-pet", "Severe pre-eclampsia", onset="2026-11-13")
c.request(
    "mr-nia-mgso4",
    "Magnesium sulfate 1 g/hour intravenous infusion",
    MGSO4,
    authored="2026-11-13",
    route="Intravenous",
)
c.mg("mg-nia", 4.6, when="2026-11-14T18:00:00Z")
case(
    "r03-mgso4-above-obstetric-range-critical",
    "3",
    "On IV MgSO4 with Mg 4.6 mmol/L (above the obstetric range): critical, calcium gluconate, reflexes, respiration",
    "Above about 3.5 mmol/L reflexes are lost and respiratory depression follows (> 5 mmol/L); this is "
    "obstetric magnesium toxicity: stop the infusion, give calcium gluconate, check reflexes and breathing.",
    f"{SRC_ACOG}; {SRC_NICE_PET}",
    c,
    expect(card("mg-high", "critical", [CALCIUM_GLUCONATE, REFLEX, RESPIRATION]), absent=["mg-obstetric-monitoring"]),
)

c = pregnant("ola-r0303")
c.cond("cond-ola-cramp", "Leg cramps in pregnancy", LEG_CRAMP, onset="2026-10-20")
c.mg("mg-ola", 0.78)
case(
    "r03-pregnancy-cramps-conflicting-evidence",
    "3, 13",
    "Pregnancy-associated leg cramps, Mg 0.78 mmol/L: the card states the evidence is conflicting",
    "RCTs of magnesium for pregnancy-associated leg cramps disagree (Cochrane 2020: conflicting). A careful "
    "physician must not be told that magnesium helps these cramps.",
    SRC_COCHRANE,
    c,
    expect(
        card(
            "mg-low-normal",
            "info",
            [["conflicting", "inconsistent", "mixed", "uncertain", "unclear"]],
            ["magnesium helps", "magnesium relieves", "relieves cramps", "effective for pregnancy"],
        ),
        absent=["mg-low"],
    ),
)

# =====================================================================================================
# 4. Red flags in leg symptoms
# =====================================================================================================
c = Chart("pam-r0401", ADULT, "female")
c.cond("cond-pam-pain", "Left calf pain", PAIN_L_LEG, onset="2026-11-12")
c.cond("cond-pam-swell", "Swelling of left lower leg", onset="2026-11-12")
c.mg("mg-pam", 0.80)
case(
    "r04-unilateral-calf-pain-swelling-dvt",
    "4",
    "Unilateral calf pain with leg swelling: warning to exclude DVT (Wells, D-dimer, compression ultrasound)",
    "Unilateral calf pain and swelling is DVT until proven otherwise: two-level Wells score, D-dimer and/or "
    "proximal leg vein ultrasound. A low-normal magnesium card alone would miss a pulmonary-embolism risk.",
    SRC_NICE_VTE,
    c,
    expect(card("leg-red-flag", "warning", [DVT, D_DIMER, ULTRASOUND, ["Wells"]])),
)

c = Chart("quin-r0402", ADULT, "male")
c.cond("cond-quin-pain", "Right calf pain", PAIN_R_LOWER_LEG, onset="2026-11-11")
c.mg("mg-quin", 0.90)
case(
    "r04-unilateral-calf-pain-alone-dvt",
    "4",
    "Unilateral (right) calf pain alone with normal Mg: warning to exclude DVT",
    "New one-sided calf pain is one of the 'see a doctor' signs: it needs DVT excluded (Wells, D-dimer, "
    "ultrasound) before any magnesium explanation.",
    SRC_NICE_VTE,
    c,
    expect(card("leg-red-flag", "warning", [DVT])),
)

c = Chart("ray-r0403", OLDER, "male")
c.cond("cond-ray-ali", "Acute limb ischaemia, right leg", onset="2026-11-14")
c.cond(
    "cond-ray-pad", "Peripheral arterial disease", (SCT, "840580004", "Peripheral arterial disease"), onset="2021-01-01"
)
c.mg("mg-ray", 0.82)
case(
    "r04-acute-limb-ischaemia-critical",
    "4",
    "Acute limb ischaemia: critical, emergency vascular assessment",
    "Acute limb ischaemia threatens the limb within hours; it needs emergency (same-hour) vascular "
    "assessment and anticoagulation, not a magnesium card.",
    f"{SRC_ESVS_ALI}; {SRC_AHA_PAD}",
    c,
    expect(card("leg-red-flag", "critical", [EMERGENCY])),
)

c = Chart("sue-r0404", OLDER, "female")
c.cond("cond-sue-cold", "Cold, pale, pulseless left foot", onset="2026-11-14")
c.cond("cond-sue-pain", "Left leg pain", PAIN_L_LEG, onset="2026-11-14")
case(
    "r04-cold-pale-pulseless-critical",
    "4",
    "Cold, pale, pulseless foot: critical (the 6 Ps of acute ischaemia)",
    "A cold, pale, pulseless limb is acute ischaemia by its signs even without a coded diagnosis; emergency "
    "referral is the only safe advice.",
    SRC_ESVS_ALI,
    c,
    expect(card("leg-red-flag", "critical", [EMERGENCY])),
)

c = Chart("ted-r0405", OLDER, "male")
c.cond(
    "cond-ted-rest",
    "Atherosclerosis of native arteries of right leg with rest pain",
    (ICD, "I70.221", "Atherosclerosis of native arteries of extremities with rest pain, right leg"),
    onset="2026-10-25",
)
c.mg("mg-ted", 0.84)
case(
    "r04-ischaemic-rest-pain-vascular",
    "4",
    "Ischaemic rest pain (I70.221): warning, urgent vascular referral; no request for an ABI",
    "Rest pain is chronic limb-threatening ischaemia: urgent vascular referral. PAD is already diagnosed, so "
    "'check an ABI' (the old info card) is the wrong action.",
    f"{SRC_CLTI}; {SRC_AHA_PAD}",
    c,
    expect(card("leg-red-flag", "warning", [VASCULAR, URGENT]), none_anywhere=ABI_REQUEST),
)

c = Chart("una-r0406", OLDER, "female")
c.cond(
    "cond-una-gang",
    "Atherosclerosis of native arteries of right leg with gangrene",
    (ICD, "I70.261", "Atherosclerosis of native arteries of extremities with gangrene, right leg"),
    onset="2026-11-01",
)
c.cond("cond-una-t2", "Type 2 diabetes mellitus", T2DM, onset="2010-01-01")
case(
    "r04-gangrene-vascular",
    "4",
    "Gangrene from PAD (I70.261): warning, urgent vascular referral",
    "Tissue loss (ulcer/gangrene) is limb-threatening ischaemia: urgent vascular surgery referral.",
    SRC_CLTI,
    c,
    expect(card("leg-red-flag", "warning", [VASCULAR]), none_anywhere=ABI_REQUEST),
)

c = Chart("vic-r0407", OLDER, "female")
c.cond(
    "cond-vic-pad",
    "Atherosclerosis of native arteries of left leg with intermittent claudication",
    (ICD, "I70.212", "Atherosclerosis of native arteries of extremities with intermittent claudication, left leg"),
    onset="2024-01-01",
)
c.cond("cond-vic-pain", "Leg pain on walking, relieved by rest", PAIN_LEG, onset="2026-09-15")
c.note_obs(
    "abi-vic",
    "Ankle-brachial index, left",
    {"valueQuantity": {"value": 0.72, "unit": "{ratio}"}},
    "2026-07-15T10:00:00Z",
)
c.mg("mg-vic", 0.88)
case(
    "r04-pad-with-abi-shows-value",
    "4",
    "Claudication with ABI 0.72 on file: the differential shows the ABI and does not ask for one",
    "PAD is diagnosed and an ABI was measured in July; the card should show ABI 0.72 (abnormal, <= 0.90), "
    "not ask for another ABI. Claudication alone is not a red flag.",
    SRC_AHA_PAD,
    c,
    expect(card("leg-differential", "info", [["0.72"]]), absent=["leg-red-flag"], none_anywhere=ABI_REQUEST),
)

c = Chart("wes-r0408", ADULT, "male")
c.cond("cond-wes-nc", "Lumbar spinal stenosis with neurogenic claudication", onset="2025-10-01")
c.cond("cond-wes-pain", "Bilateral leg pain on walking", PAIN_LEG, onset="2026-09-01")
c.mg("mg-wes", 0.90)
case(
    "r04-neurogenic-claudication-not-pad",
    "4",
    "Neurogenic claudication (spinal stenosis) is radiculopathy, not PAD",
    "Neurogenic claudication is leg pain from lumbar canal stenosis (relieved by flexion/sitting); in a "
    "58-year-old without vascular risk factors it must not be read as peripheral arterial disease.",
    SRC_NASS,
    c,
    expect(
        card(
            "leg-differential",
            "info",
            [["stenosis", "radiculopathy", "neurogenic", "spinal", "sciatica"]],
            ["peripheral arterial", "ankle-brachial", "ankle brachial"],
        ),
        absent=["leg-red-flag"],
    ),
)

c = Chart("xan-r0409", ADULT, "female")
c.cond("cond-xan-cramp", "Nocturnal cramps in both calves", LEG_CRAMP, CRAMP_ICD, onset="2026-09-20")
c.mg("mg-xan", 0.90)
case(
    "r04-bilateral-cramps-no-red-flag",
    "4",
    "Bilateral nocturnal calf cramps with normal Mg: no red-flag card",
    "Symmetric nocturnal cramps without swelling, colour change or rest pain are not a DVT/ischaemia "
    "pattern; a red-flag card here is noise.",
    SRC_AFP,
    c,
    expect(absent=["leg-red-flag", "mg-low"]),
)

# =====================================================================================================
# 5. Renal safety from every source
# =====================================================================================================
c = Chart("yan-r0501", ADULT, "male")
c.cond("cond-yan-esrd", "End-stage renal disease", ESRD, onset="2021-05-01")
c.cond("cond-yan-dial", "Dependence on renal dialysis (haemodialysis three times weekly)", onset="2021-06-01")
c.statement("ms-yan-mgo", "Magnesium oxide 400 MG Oral Tablet", MGO, start="2026-08-01")
case(
    "r05-dialysis-on-mg-supplement",
    "5",
    "ESRD on dialysis taking magnesium oxide (no eGFR on file): mg-supplement-safety warning, no creatinine order",
    "Dialysis patients cannot excrete magnesium; an oral Mg product risks hypermagnesaemia. The renal status "
    "is in the problem list, not an eGFR — and ordering a creatinine 'to check renal function' is pointless "
    "in a dialysis patient.",
    f"{SRC_MAGNASPARTATE}; {SRC_ODS}; {SRC_KDIGO}",
    c,
    expect(
        card("mg-supplement-safety", "warning", [["dialysis", "end-stage", "end stage", "ESRD", "kidney failure"]]),
        none_anywhere=["order creatinine", "order a creatinine", "check renal function", "order renal function"],
    ),
)

c = Chart("zoe-r0502", ADULT, "female")
c.add(
    {
        "resourceType": "Procedure",
        "id": "proc-zoe-hd",
        "status": "completed",
        "code": {"text": "Haemodialysis"},
        "subject": c.ref,
        "performedDateTime": "2026-11-12T07:00:00Z",
    }
)
c.statement("ms-zoe-mgo", "Magnesium oxide 400 MG Oral Tablet", MGO, start="2026-09-01")
case(
    "r05-dialysis-procedure-only",
    "5",
    "Haemodialysis recorded only as a Procedure, on magnesium oxide: mg-supplement-safety warning",
    "A haemodialysis session three days ago is as strong evidence of kidney failure as a diagnosis code.",
    f"{SRC_MAGNASPARTATE}; {SRC_ODS}",
    c,
    expect(card("mg-supplement-safety", "warning")),
)

c = Chart("abe-r0503", OLDER, "male")
c.cond("cond-abe-ckd4", "Chronic kidney disease stage 4", CKD4, onset="2024-02-01")
c.statement("ms-abe-mgo", "Magnesium oxide 400 MG Oral Tablet", MGO, start="2026-05-01")
case(
    "r05-ckd4-condition-no-egfr",
    "5",
    "CKD stage 4 on the problem list (no eGFR on file) with magnesium oxide: mg-supplement-safety warning",
    "CKD G4 means GFR 15-29: oral Mg is contraindicated (< 30) in UK labelling; the condition is enough "
    "evidence when no eGFR was sent.",
    f"{SRC_MAGNASPARTATE}; {SRC_KDIGO}",
    c,
    expect(card("mg-supplement-safety", "warning")),
)

c = Chart("bea-r0504", OLDER, "female")
c.egfr("egfr-bea-cr", 45, when="2026-10-30T08:00:00Z")
c.egfr("egfr-bea-cys", 27, when="2026-10-30T08:00:00Z", code=EGFR_CYS)
c.statement("ms-bea-mgo", "Magnesium oxide 400 MG Oral Tablet", MGO, start="2026-05-01")
case(
    "r05-simultaneous-egfr-lowest",
    "5",
    "Two eGFRs from the same sample (45 creatinine, 27 creatinine+cystatin C): the lowest (27) decides",
    "When simultaneous estimates disagree, the conservative (lowest) one is used for a safety decision: "
    "eGFR 27 is below 30.",
    f"{SRC_KDIGO}; {SRC_MAGNASPARTATE}",
    c,
    expect(card("mg-supplement-safety", "warning", [["27"]])),
)

c = Chart("cy-r0505", ADULT, "male")
c.egfr("egfr-cy", 78)
c.mg("mg-cy", 0.88)
c.statement("ms-cy-mgo", "Magnesium oxide 400 MG Oral Tablet", MGO, start="2026-05-01")
case(
    "r05-normal-renal-no-safety-card",
    "5",
    "Magnesium oxide with eGFR 78 and normal Mg, no chelating drug: no supplement-safety card",
    "With normal kidney function and a normal level there is no safety issue to raise.",
    SRC_ODS,
    c,
    expect(absent=["mg-supplement-safety", "mg-high"]),
)

c = Chart("dee-r0506", ADULT, "female")
c.cond("cond-dee-esrd", "End-stage renal disease on haemodialysis", ESRD, onset="2022-01-01")
c.draft("draft-dee-mgo", "Magnesium oxide 400 MG Oral Tablet", MGO, route="Oral")
case(
    "r05-order-mg-dialysis-no-egfr",
    "5, 6",
    "Signing magnesium oxide for an ESRD patient with no eGFR and no documented hypomagnesaemia: critical + delete",
    "The order hook must read Conditions: ESRD without a documented low Mg makes the order unsafe; a "
    "delete suggestion is appropriate, and it must not settle for 'no recent eGFR'.",
    f"{SRC_MAGNASPARTATE}; {SRC_KDIGO}",
    c,
    expect(
        card("order-mg-supplement", "critical", suggestion=True),
        none_anywhere=["order creatinine", "order a creatinine", "check renal function"],
    ),
    hook="order-sign",
)

# =====================================================================================================
# 6. Order hooks weigh the indication and the route
# =====================================================================================================
c = Chart("eli-r0601", OLDER, "male")
c.mg("mg-eli", 0.48, when="2026-11-14T07:00:00Z")
c.egfr("egfr-eli", 28, when="2026-11-14T07:00:00Z")
c.cond("cond-eli-hypomg", "Hypomagnesemia", HYPOMG, onset="2026-11-14")
c.draft("draft-eli-mgo", "Magnesium oxide 400 MG Oral Tablet, one tablet twice daily", MGO, route="Oral")
case(
    "r06-order-mg-treating-hypomag-egfr28",
    "6",
    "Magnesium ordered for documented Mg 0.48 mmol/L with eGFR 28: warning (reduce dose, monitor), no delete",
    "Severe hypomagnesaemia must be treated even in CKD G4; the safe advice is a reduced dose with close "
    "monitoring of Mg and renal function, showing the value being treated. Recommending deletion would "
    "leave a dangerous deficit untreated.",
    f"{SRC_MAGNASPARTATE} ('dose adjustment to degree of excretion impairment'); {SRC_HUANG}",
    c,
    expect(
        card(
            "order-mg-supplement",
            "warning",
            [["0.48"], ["dose", "reduce"], RECHECK],
            no_delete=True,
        )
    ),
    hook="order-sign",
)

c = Chart("flo-r0602", OLDER, "female")
c.mg("mg-flo", 0.42, when="2026-11-14T07:00:00Z")
c.egfr("egfr-flo", 28, when="2026-11-14T07:00:00Z")
c.cond("cond-flo-hypomg", "Hypomagnesemia", HYPOMG, onset="2026-11-14")
c.draft(
    "draft-flo-mgso4",
    "Magnesium sulfate 2 g in 50 mL intravenous infusion over 2 hours",
    MGSO4,
    route="Intravenous",
)
case(
    "r06-iv-order-not-called-oral",
    "6",
    "IV magnesium sulfate for Mg 0.42 mmol/L with eGFR 28: warning, never called 'oral', no delete",
    "An intravenous order is not an oral supplement; the card must talk about the IV dose and monitoring, "
    "not 'oral magnesium is contraindicated', and must not recommend deleting needed treatment.",
    f"{SRC_SMPC_MGSO4}; {SRC_MAGNASPARTATE}",
    c,
    expect(
        card(
            "order-mg-supplement",
            "warning",
            [RECHECK],
            ["oral magnesium is contraindicated", "oral mg is contraindicated", "oral magnesium supplement is"],
            no_delete=True,
        )
    ),
    hook="order-sign",
)

c = Chart("gil-r0603", ADULT, "male")
c.mg("mg-gil", 0.40, when="2026-11-14T07:00:00Z")
c.egfr("egfr-gil", 84, when="2026-11-14T07:00:00Z")
c.draft("draft-gil-mgso4", "Magnesium sulfate 2 g intravenous infusion over 1 hour", MGSO4, route="Intravenous")
case(
    "r06-iv-order-for-hypomag-normal-renal",
    "6",
    "IV magnesium sulfate for Mg 0.40 mmol/L with eGFR 84: the right treatment, no supplement-order card",
    "This is exactly what the patient needs; with normal kidney function there is nothing to warn about.",
    SRC_SMPC_MGSO4,
    c,
    expect(absent=["order-mg-supplement"]),
    hook="order-sign",
)

c = Chart("hana-r0604", OLDER, "female")
c.egfr("egfr-hana", 22)
c.draft("draft-hana-epsom", "Epsom salt (magnesium sulfate) bath soak, topical", MGSO4, route="Topical")
case(
    "r06-epsom-salt-topical-order-no-renal-card",
    "6",
    "Epsom salt bath (topical magnesium sulfate) ordered with eGFR 22: no renal card",
    "Transdermal magnesium absorption is negligible; a topical soak is not a systemic supplement and the "
    "GFR < 30 contraindication of oral Mg does not apply.",
    f"{SRC_MAGNASPARTATE} (oral/systemic products); {SRC_ODS}",
    c,
    expect(absent=["order-mg-supplement"]),
    hook="order-sign",
)

c = Chart("ivo-r0605", OLDER, "male")
c.egfr("egfr-ivo", 12)
c.statement("ms-ivo-oil", "Magnesium oil spray, topical, to calves at night", route="Topical", start="2026-06-01")
c.statement("ms-ivo-epsom", "Epsom salt bath soak", MGSO4, route="Topical", start="2026-06-01")
case(
    "r06-topical-mg-statement-ckd5-no-safety",
    "6",
    "Magnesium oil and Epsom salt baths with eGFR 12: no mg-supplement-safety card",
    "Topical magnesium products are not systemic intake; flagging them for renal failure is noise.",
    SRC_ODS,
    c,
    expect(absent=["mg-supplement-safety"]),
)

c = Chart("jade-r0606", ADULT, "female")
c.draft("draft-jade-hp", "Omeprazole/amoxicillin/clarithromycin H. pylori eradication pack, 14 days", HP_PACK)
case(
    "r06-hpylori-pack-no-ppi-baseline",
    "6",
    "H. pylori eradication pack (14 days of omeprazole) with no Mg on file: no PPI baseline card",
    "PPI hypomagnesaemia follows months to years of use (FDA: usually > 1 year); a 14-day eradication course "
    "gives no reason for a magnesium baseline.",
    SRC_FDA_PPI,
    c,
    expect(absent=["order-mg-wasting-drug"]),
    hook="order-sign",
)

c = Chart("kit-r0607", ADULT, "male")
c.draft(
    "draft-kit-ome",
    "Omeprazole 20 MG Delayed Release Oral Capsule, once daily for 14 days",
    OMEPRAZOLE_20,
    **supply(14),
)
case(
    "r06-short-ppi-course-no-card",
    "6",
    "Omeprazole for 14 days (no refills), no Mg on file: no PPI card",
    "A short course (<= 30 days) is not long-term PPI use; the FDA monitoring advice targets prolonged use.",
    SRC_FDA_PPI,
    c,
    expect(absent=["order-mg-wasting-drug"]),
    hook="order-sign",
)

c = Chart("lou-r0608", ADULT, "male")
c.draft(
    "draft-lou-ome", "Omeprazole 20 MG Delayed Release Oral Capsule, once daily", OMEPRAZOLE_20, **supply(90, repeats=3)
)
case(
    "r06-long-term-ppi-order-baseline",
    "6",
    "Omeprazole 90 days x 3 refills with no Mg on file: info card suggesting a baseline magnesium",
    "FDA advises considering a magnesium level before starting a PPI expected to be taken long term.",
    SRC_FDA_PPI,
    c,
    expect(card("order-mg-wasting-drug", "info", [["magnesium"]], suggestion=True)),
    hook="order-sign",
)

c = Chart("max-r0609", OLDER, "male")
c.mg("mg-max", 0.62)
c.draft("draft-max-furo", "Furosemide 40 MG Oral Tablet, once daily", FUROSEMIDE_40, **supply(90, repeats=3))
case(
    "r06-diuretic-order-low-mg-diuretic-evidence",
    "6",
    "Furosemide ordered with Mg 0.62 mmol/L: warning citing diuretic evidence, not the PPI notice",
    "Loop diuretics increase urinary magnesium loss; starting one with existing hypomagnesaemia needs "
    "repletion and monitoring. The FDA PPI communication is irrelevant to a diuretic order.",
    f"{SRC_ODS} (diuretics); Kieboom BCT et al. Pharmacoepidemiol Drug Saf 2018;27:1166 — "
    "https://pubmed.ncbi.nlm.nih.gov/30095199/",
    c,
    expect(card("order-mg-wasting-drug", "warning", [["0.62"], ["diuretic", "furosemide"]], ["proton pump"])),
    hook="order-sign",
)

# =====================================================================================================
# 7. Result selection and plausibility
# =====================================================================================================
c = Chart("ned-r0701", ADULT, "male")
c.mg("mg-ned-orig", 0.45, when="2026-11-10T08:00:00Z", issued="2026-11-10T09:00:00Z")
c.mg("mg-ned-amend", 0.86, when="2026-11-10T08:00:00Z", issued="2026-11-10T15:00:00Z", status="amended")
case(
    "r07-amended-supersedes-original",
    "7",
    "Original 0.45 then amended 0.86 mmol/L for the same specimen: the amended value stands, no mg-low",
    "An amended result replaces the original for the same specimen; acting on the superseded 0.45 would "
    "mean IV magnesium for a normal patient.",
    SRC_FHIR_OBS,
    c,
    expect(absent=["mg-low"], none_anywhere=["0.45"]),
)

c = Chart("ora-r0702", ADULT, "female")
c.mg("mg-ora-orig", 0.88, when="2026-11-10T08:00:00Z", issued="2026-11-10T09:00:00Z")
c.mg("mg-ora-corr", 0.45, when="2026-11-10T08:00:00Z", issued="2026-11-10T16:00:00Z", status="corrected")
case(
    "r07-corrected-supersedes-to-low",
    "7",
    "Original 0.88 then corrected 0.45 mmol/L for the same specimen: critical mg-low on the corrected value",
    "The corrected result is the valid one; the original normal value must not hide severe hypomagnesaemia.",
    SRC_FHIR_OBS,
    c,
    expect(card("mg-low", "critical", [["0.45"]])),
)

c = Chart("pia-r0703", ADULT, "female")
c.mg("mg-pia-a", 0.65, when="2026-11-10T08:00:00Z", issued="2026-11-10T09:00:00Z")
c.mg("mg-pia-b", 0.90, when="2026-11-10T08:00:00Z", issued="2026-11-10T13:00:00Z")
case(
    "r07-same-time-tie-breaks-on-issued",
    "7",
    "Two final results for the same time (0.65 issued 09:00, 0.90 issued 13:00): the later-issued 0.90 counts",
    "When two results share the effective time, the later-issued one is the lab's latest word (a re-run).",
    SRC_FHIR_OBS,
    c,
    expect(absent=["mg-low"]),
)

c = Chart("rex-r0704", ADULT, "male")
c.mg("mg-rex", None, ref_range=None, valueString="Result to follow - sample re-run requested")
c.statement("ms-rex-ppi", "Omeprazole 20 MG Delayed Release Oral Capsule", OMEPRAZOLE_20, start="2022-01-01")
c.cond("cond-rex-cramp", "Leg cramps", LEG_CRAMP, onset="2026-10-01")
case(
    "r07-valuestring-unreadable",
    "7",
    "Mg result sent as valueString on a long-term PPI user: mg-unreadable, never 'not measured'",
    "A magnesium result exists but cannot be read; telling the clinician there is no magnesium in 12 months "
    "is false and invites a duplicate test. The right message is that a result exists and needs review.",
    f"{SRC_FHIR_OBS}; {SRC_FDA_PPI}",
    c,
    expect(card("mg-unreadable", "info"), absent=["mg-not-measured", "mg-low"], none_anywhere=NOT_MEASURED_WORDING),
)

c = Chart("sam-r0705", ADULT, "female")
c.mg("mg-sam", 0.6, unit=None, ref_range=None)
c.statement("ms-sam-ppi", "Omeprazole 20 MG Delayed Release Oral Capsule", OMEPRAZOLE_20, start="2022-01-01")
case(
    "r07-missing-unit-unreadable",
    "7",
    "Mg value 0.6 without a unit: unreadable (0.6 mg/dL and 0.6 mmol/L mean very different things)",
    "0.6 mmol/L is mild-moderate hypomagnesaemia, 0.6 mg/dL is 0.25 mmol/L (life-threatening); guessing "
    "the unit is unsafe, so the result is a data-quality finding, not a band.",
    "clinical-reference §2a/§6.2 (drive conversions from the UCUM code; reject unknown units)",
    c,
    expect(card("mg-unreadable", "info"), absent=["mg-not-measured"], none_anywhere=NOT_MEASURED_WORDING),
)

c = Chart("tia-r0706", ADULT, "female")
c.mg(
    "mg-tia",
    15,
    "mg/dL",
    ref_range=(1.6, 2.6),
    interpretation=[{"coding": [{"system": INTERP, "code": "L", "display": "Low"}]}],
)
case(
    "r07-15-mgdl-flagged-low-not-low",
    "7",
    "Mg 15 mg/dL carrying an 'L' flag: the number decides, never 'low'",
    "15 mg/dL (6.2 mmol/L) contradicts its own 'L' flag: a transcription/unit error is far more likely. A lab "
    "flag never overrides the number, so this must not produce a low-magnesium card (a data-quality or "
    "verify-result message is the careful response).",
    "clinical-reference §2c; issue 10 rule 7 (a lab flag never overrides the number)",
    c,
    expect(absent=["mg-low", "mg-low-normal", "mg-normal-with-risk"]),
)

c = Chart("uma-r0707", ADULT, "female")
c.mg("mg-uma", 45, "mg/dL", ref_range=(1.6, 2.6))
case(
    "r07-impossible-high-value-data-quality",
    "7",
    "Mg 45 mg/dL (18.5 mmol/L, above any physiological ceiling): data quality, no clinical Mg card",
    "A serum magnesium of 18.5 mmol/L is incompatible with life; it is a reporting error, and no clinical "
    "card (toxic hypermagnesaemia advice) should be built on it.",
    f"{SRC_ODS} (cardiac arrest well below this level); issue 10 rule 7 (physiological ceiling)",
    c,
    expect(card("mg-unreadable", "info"), absent=["mg-high", "mg-low", "mg-not-measured"]),
)

c = Chart("val-r0708", ADULT, "male")
c.mg("mg-val", 0, "mmol/L")
case(
    "r07-zero-mg-impossible",
    "7",
    "Mg 0 mmol/L: impossible value, data quality, not 'critically low'",
    "A serum magnesium of zero does not occur in a living patient; treating it as critical hypomagnesaemia "
    "would trigger IV therapy on an error.",
    "issue 10 rule 7 (serum Mg <= 0 is data quality)",
    c,
    expect(card("mg-unreadable", "info"), absent=["mg-low", "mg-not-measured"]),
)

c = Chart("wil-r0709", ADULT, "male")
c.mg("mg-wil-old", 0.88, when="2026-03-01T08:00:00Z")
c.mg("mg-wil-new", 0.62, when="2026-11-01T08:00:00", ref_range=(0.70, 1.00))
case(
    "r07-timezone-less-datetime-read",
    "7",
    "Newest Mg (0.62) dated without a time zone, older normal (0.88): the newest is read, mg-low warning",
    "A dateTime without an offset is a data-quality problem, not a reason to fall back to an 8-month-old "
    "normal value; read it (as UTC) and act on the current low result.",
    SRC_FHIR_DT,
    c,
    expect(card("mg-low", "warning", [["0.62"]])),
    invalid=["Observation/mg-wil-new"],
)

c = Chart("xia-r0710", ADULT, "female")
c.mg("mg-xia", 0.71, when="2025-06-03T08:00:00Z")
c.statement("ms-xia-ppi", "Omeprazole 20 MG Delayed Release Oral Capsule", OMEPRAZOLE_20, start="2021-05-01")
case(
    "r07-last-result-outside-lookback",
    "7",
    "Long-term PPI, last Mg 0.71 mmol/L in June 2025 (outside 12 months): not-measured card shows that result",
    "The clinician needs to know the last value was low-ish and when it was taken, not a bare 'no result'.",
    SRC_FDA_PPI,
    c,
    expect(card("mg-not-measured", "info", [["0.71"], ["2025"]], suggestion=True)),
)

c = Chart("yara-r0711", ADULT, "female")
c.mg("mg-yara", 0.88)
c.egfr("egfr-yara", 0)
c.statement("ms-yara-mgo", "Magnesium oxide 400 MG Oral Tablet", MGO, start="2026-05-01")
case(
    "r07-egfr-zero-data-quality",
    "7",
    "eGFR 0 (impossible) with magnesium oxide: no renal clinical card from it",
    "An eGFR of 0 is a placeholder or error, not a result; a renal-failure card built on it is wrong.",
    "issue 10 rule 7 (eGFR <= 0 is data quality)",
    c,
    expect(absent=["mg-supplement-safety"]),
)

# =====================================================================================================
# 8. Co-deficits and digoxin
# =====================================================================================================
c = Chart("zed-r0801", ADULT, "male")
c.mg("mg-zed", 0.62)
c.potassium("k-zed", 3.1)
case(
    "r08-potassium-3.1-co-deficit",
    "8",
    "Mg 0.62 mmol/L with K 3.1 mmol/L: the card shows the potassium value",
    "Hypokalaemia with hypomagnesaemia is refractory to potassium until Mg is repleted; the low K must be "
    "shown on the magnesium card.",
    SRC_HUANG,
    c,
    expect(card("mg-low", "warning", [["3.1"], POTASSIUM])),
)

c = Chart("amy-r0802", ADULT, "female")
c.mg("mg-amy", 0.62)
c.potassium("k-amy", 3.3, with_range=False)
c.lab("ca-amy", CA_ADJ, 1.95, "mmol/L")
case(
    "r08-co-deficits-without-lab-range",
    "8",
    "Mg 0.62 with K 3.3 and adjusted Ca 1.95 mmol/L, no lab ranges: standard cut-offs flag both",
    "Without a lab range, K < 3.5 mmol/L and adjusted calcium < 2.2 mmol/L are standard cut-offs for "
    "hypokalaemia and hypocalcaemia; both are classic companions of hypomagnesaemia.",
    SRC_HUANG,
    c,
    expect(card("mg-low", "warning", [["3.3"], ["1.95"]])),
)

c = Chart("bob-r0803", OLDER, "male")
c.mg("mg-bob", 0.85, when="2025-09-10T08:00:00Z")
c.request("mr-bob-dig", "Digoxin 0.125 MG Oral Tablet", DIGOXIN, authored="2023-01-01")
c.request("mr-bob-furo", "Furosemide 40 MG Oral Tablet", FUROSEMIDE_40, authored="2023-01-01")
case(
    "r08-digoxin-loop-no-mg-in-a-year",
    "8",
    "Digoxin + furosemide with the last Mg 14 months ago: mg-not-measured with an order suggestion",
    "Loop diuretics waste magnesium and potassium, and deficits potentiate digoxin toxicity; a patient on "
    "both needs periodic Mg/K/creatinine monitoring.",
    f"{SRC_DIGOXIN}; {SRC_ODS}",
    c,
    expect(card("mg-not-measured", "info", [["digoxin"]], suggestion=True)),
)

c = Chart("cleo-r0804", OLDER, "female")
c.statement("ms-cleo-dig", "Digoxin 62.5 MCG Oral Tablet", DIGOXIN, start="2024-04-01")
c.statement("ms-cleo-hctz", "Hydrochlorothiazide 25 MG Oral Tablet", HCTZ, start="2020-01-01")
case(
    "r08-digoxin-thiazide-never-measured",
    "8",
    "Digoxin + hydrochlorothiazide, no Mg ever: mg-not-measured",
    "Thiazides are the diuretics most associated with hypomagnesaemia (Rotterdam Study OR 3.14); with "
    "digoxin, that is a monitoring trigger.",
    f"{SRC_DIGOXIN}; Kieboom BCT et al. 2018 — https://pubmed.ncbi.nlm.nih.gov/30095199/",
    c,
    expect(card("mg-not-measured", "info", [["digoxin"]], suggestion=True)),
)

# =====================================================================================================
# 9. Medication exposure
# =====================================================================================================
c = Chart("dora-r0901", ADULT, "female")
c.statement(
    "ms-dora-ppi",
    "Omeprazole 20 MG Delayed Release Oral Capsule",
    OMEPRAZOLE_20,
    status="completed",
    effectivePeriod={"start": "2023-01-01", "end": "2026-01-15"},
)
case(
    "r09-ppi-stopped-10-months-ago",
    "9",
    "Omeprazole stopped 10 months ago (completed, period ended 2026-01-15), no Mg: no long-term PPI card",
    "PPI-induced hypomagnesaemia resolves within weeks of stopping; a drug stopped 10 months ago is not "
    "current long-term use.",
    SRC_FDA_PPI,
    c,
    expect(absent=["mg-not-measured"], none_anywhere=["long-term PPI", "long-term proton pump"]),
)

c = Chart("ezra-r0902", ADULT, "male")
c.request(
    "mr-ezra-ppi",
    "Omeprazole 20 MG Delayed Release Oral Capsule",
    OMEPRAZOLE_20,
    authored="2023-06-01",
    dispenseRequest={"validityPeriod": {"start": "2023-06-01", "end": "2024-11-01"}, "numberOfRepeatsAllowed": 3},
)
case(
    "r09-active-order-validity-ended-2y-ago",
    "9",
    "'Active' PPI order whose validity period ended two years ago: not current use, no card",
    "A prescription that could not be dispensed since November 2024 is stale data, not evidence of current "
    "PPI exposure.",
    SRC_FDA_PPI,
    c,
    expect(absent=["mg-not-measured"]),
)

c = Chart("finn-r0903", ADULT, "male")
c.cond("cond-finn-cirr", "Alcohol-related cirrhosis of liver with hepatic encephalopathy", onset="2025-01-01")
c.cond("cond-finn-ckd4", "Chronic kidney disease stage 4", CKD4, onset="2025-06-01")
c.statement("ms-finn-lac", "Lactulose 10 G/15 ML Oral Solution", (ATC, "A06AD11", "lactulose"), start="2025-01-15")
case(
    "r09-lactulose-not-a-magnesium-product",
    "9",
    "Lactulose (ATC A06AD11) with CKD 4: not a magnesium product, no supplement-safety card",
    "ATC A06AD is all osmotic laxatives; only its magnesium members (A06AD01/02/03/04/19) contain "
    "magnesium. Lactulose for hepatic encephalopathy must not be flagged as a magnesium supplement.",
    SRC_WHO_ATC,
    c,
    expect(absent=["mg-supplement-safety"]),
)

c = Chart("gwen-r0904", OLDER, "female")
c.egfr("egfr-gwen", 25)
c.draft(
    "draft-gwen-peg",
    "Macrogol 3350 13.7 G oral powder sachet (polyethylene glycol 3350)",
    (ATC, "A06AD15", "macrogol"),
    route="Oral",
)
case(
    "r09-macrogol-order-not-magnesium",
    "9",
    "Signing macrogol 3350 with eGFR 25: not a magnesium product, no supplement-order card",
    "Macrogol (polyethylene glycol) is an osmotic laxative without magnesium; the renal magnesium rule does not apply.",
    SRC_WHO_ATC,
    c,
    expect(absent=["order-mg-supplement"]),
    hook="order-sign",
)

c = Chart("hugo-r0905", ADULT, "male")
c.cond("cond-hugo-cramp", "Leg cramps", LEG_CRAMP, onset="2026-10-01")
c.statement(
    "ms-hugo-csa",
    "Ciclosporin 0.05% ophthalmic emulsion, one drop both eyes twice daily",
    CYCLOSPORINE,
    route="Ophthalmic",
    start="2025-02-01",
)
case(
    "r09-ciclosporin-eye-drops-not-mg-wasting",
    "9",
    "Leg cramps with ciclosporin eye drops only, no Mg: eye drops are not a magnesium-wasting drug",
    "Ophthalmic ciclosporin gives blood levels below quantitation; it cannot cause renal magnesium wasting, "
    "so it is not the strong risk factor that would justify a magnesium test for cramps.",
    "Restasis (cyclosporine ophthalmic emulsion) US label §12.3 — "
    "https://dailymed.nlm.nih.gov/dailymed/search.cfm?query=restasis",
    c,
    expect(absent=["mg-not-measured"]),
)

c = Chart("iris-r0906", ADULT, "female")
c.cond("cond-iris-cramp", "Leg cramps", LEG_CRAMP, onset="2026-10-01")
c.statement(
    "ms-iris-tob",
    "Tobramycin 0.3% ophthalmic solution",
    TOBRAMYCIN,
    route="Ophthalmic",
    start="2026-10-20",
)
case(
    "r09-ophthalmic-aminoglycoside-not-mg-wasting",
    "9",
    "Leg cramps with tobramycin eye drops: not a systemic aminoglycoside, no Mg-wasting risk",
    "Aminoglycoside magnesium wasting is a renal tubular effect of systemic exposure; eye drops do not count.",
    f"{SRC_ODS}; issue 10 rule 9 (route-aware classes)",
    c,
    expect(absent=["mg-not-measured"]),
)

c = Chart("jack-r0907", ADULT, "male")
c.statement("ms-jack-mgo", "Magnesium oxide 400 MG Oral Tablet", MGO, start="2026-05-01")
c.statement("ms-jack-levo", "Levothyroxine sodium 100 MCG Oral Tablet", start="2019-01-01")
c.egfr("egfr-jack", 80)
case(
    "r09-chelation-levothyroxine",
    "9",
    "Magnesium oxide with levothyroxine: supplement-safety warning to separate the doses",
    "Magnesium-containing products reduce levothyroxine absorption; doses should be taken at least 4 hours apart.",
    f"Synthroid (levothyroxine) US label §7 — https://dailymed.nlm.nih.gov/dailymed/search.cfm?query=synthroid; "
    f"{SRC_ODS}",
    c,
    expect(card("mg-supplement-safety", "warning", [["levothyroxine"], ["separate", "apart", "hours", "interval"]])),
)

c = Chart("kim-r0908", ADULT, "female")
c.statement("ms-kim-mgo", "Magnesium oxide 400 MG Oral Tablet", MGO, start="2026-05-01")
c.statement("ms-kim-dtg", "Dolutegravir 50 MG Oral Tablet", start="2021-03-01")
c.egfr("egfr-kim", 92)
case(
    "r09-chelation-dolutegravir",
    "9",
    "Magnesium oxide with dolutegravir: supplement-safety warning (chelation)",
    "Polyvalent cations (Mg, Al, Ca, Fe) chelate integrase inhibitors and can cause virological failure; "
    "dolutegravir is taken 2 h before or 6 h after magnesium.",
    "Tivicay (dolutegravir) US label §7 — https://dailymed.nlm.nih.gov/dailymed/search.cfm?query=tivicay",
    c,
    expect(card("mg-supplement-safety", "warning", [["dolutegravir"]])),
)

c = Chart("lena-r0909", OLDER, "female")
c.statement("ms-lena-mgo", "Magnesium oxide 400 MG Oral Tablet", MGO, start="2026-05-01")
c.statement("ms-lena-aln", "Alendronate 70 MG Oral Tablet, weekly", ALENDRONATE, start="2022-01-01")
c.egfr("egfr-lena", 70)
case(
    "r09-chelation-bisphosphonate",
    "9",
    "Magnesium oxide with alendronate: supplement-safety warning to separate doses",
    "Oral bisphosphonates are chelated by magnesium; separate by at least 2 hours (UK SmPC: 3-4 h).",
    f"{SRC_ODS}; UK SmPC eMC 12118 — https://www.medicines.org.uk/emc/product/12118/smpc",
    c,
    expect(card("mg-supplement-safety", "warning", [["alendronate", "bisphosphonate"]])),
)

c = Chart("lars-r0910", ADULT, "male")
c.egfr("egfr-lars", 85)
c.statement("ms-lars-levo", "Levothyroxine sodium 125 MCG Oral Tablet", start="2018-01-01")
c.draft("draft-lars-mgo", "Magnesium oxide 400 MG Oral Tablet, once daily", MGO, route="Oral")
case(
    "r09-order-mg-with-levothyroxine",
    "9",
    "Signing magnesium oxide for a patient on levothyroxine: order warning to separate the doses",
    "Magnesium reduces levothyroxine absorption (chelation/adsorption); the prescriber should be told to "
    "separate the doses by at least 4 hours, and nothing here argues for deleting the order.",
    "Synthroid (levothyroxine) US label §7 — https://dailymed.nlm.nih.gov/dailymed/search.cfm?query=synthroid",
    c,
    expect(
        card(
            "order-mg-supplement",
            "warning",
            [["levothyroxine"], ["separate", "apart", "hours", "interval"]],
            no_delete=True,
        )
    ),
    hook="order-sign",
)

# =====================================================================================================
# 10. Conditions: history, remission, contextual vs strong, new symptoms and causes
# =====================================================================================================
c = Chart("mo-r1001", ADULT, "male")
c.cond("cond-mo-cramp", "Leg cramps", LEG_CRAMP, onset="2026-10-01")
c.cond(
    "cond-mo-fh",
    "Family history of Crohn's disease",
    (ICD, "Z83.79", "Family history of other diseases of the digestive system"),
    onset="2020-01-01",
)
case(
    "r10-family-history-crohns-not-gi-disease",
    "10",
    "Leg cramps with a family history of Crohn's, no Mg: no not-measured card",
    "A relative's Crohn's disease does not impair this patient's magnesium absorption; it is not a risk "
    "factor for his hypomagnesaemia.",
    SRC_ICD_Z,
    c,
    expect(absent=["mg-not-measured"]),
)

c = Chart("nell-r1002", ADULT, "female")
c.cond("cond-nell-cramp", "Leg cramps", LEG_CRAMP, onset="2026-10-01")
c.cond(
    "cond-nell-alc",
    "Alcohol dependence, in remission",
    (ICD, "F10.21", "Alcohol dependence, in remission"),
    onset="2015-01-01",
)
case(
    "r10-alcohol-dependence-in-remission",
    "10",
    "Leg cramps with alcohol dependence in sustained remission, no Mg: not current alcohol misuse",
    "Magnesium loss from alcohol comes from current drinking (renal wasting, poor intake); remission "
    "since years is not a current risk factor.",
    SRC_ICD_Z,
    c,
    expect(absent=["mg-not-measured"]),
)

c = Chart("otto-r1003", ADULT, "male")
c.cond("cond-otto-cramp", "Leg cramps", LEG_CRAMP, onset="2026-10-01")
c.cond(
    "cond-otto-ibs", "Irritable bowel syndrome with diarrhoea", (ICD, "K58.0", "Irritable bowel syndrome with diarrhea")
)
case(
    "r10-ibs-d-contextual-only",
    "10",
    "Leg cramps with IBS-D, no Mg: IBS-D is contextual, not a strong risk factor",
    "IBS with diarrhoea is a functional disorder without malabsorption; unlike Crohn's or short bowel it "
    "does not by itself justify a magnesium test for cramps.",
    f"{SRC_ODS} (GI diseases with malabsorption); issue 10 rule 10",
    c,
    expect(absent=["mg-not-measured"]),
)

c = Chart("pat-r1004", ADULT, "female")
c.cond("cond-pat-par", "Numbness and tingling of both feet (paraesthesia)", onset="2026-10-10")
c.cond("cond-pat-crohn", "Crohn's disease of ileum", (SCT, "38106008", "Crohn's disease of ileum"), onset="2012-01-01")
case(
    "r10-paraesthesia-with-crohns-not-measured",
    "10",
    "Paraesthesia with ileal Crohn's disease and no Mg: mg-not-measured with an order suggestion",
    "Numbness/tingling is a symptom of hypomagnesaemia (neuromuscular excitability) and ileal Crohn's "
    "causes magnesium malabsorption: measure it.",
    f"{SRC_ODS}; {SRC_HUANG}",
    c,
    expect(card("mg-not-measured", "info", suggestion=True)),
)

c = Chart("quinn-r1005", ADULT, "male")
c.cond("cond-quinn-fasc", "Muscle twitching (fasciculations) of both calves", onset="2026-10-10")
c.cond("cond-quinn-alc", "Alcohol dependence", (SCT, "66590003", "Alcohol dependence"), onset="2020-01-01")
case(
    "r10-fasciculation-with-alcohol-dependence",
    "10",
    "Muscle twitching with current alcohol dependence and no Mg: mg-not-measured",
    "Fasciculations are a hypomagnesaemia symptom and current alcohol dependence is a strong cause "
    "(renal wasting, poor intake): measure magnesium.",
    f"{SRC_ODS}; {SRC_HUANG}",
    c,
    expect(card("mg-not-measured", "info", suggestion=True)),
)

c = Chart("rosa-r1006", ADULT, "female")
c.cond("cond-rosa-cramp", "Leg cramps", LEG_CRAMP, onset="2026-11-05")
c.cond("cond-rosa-refeed", "At risk of refeeding syndrome (BMI 15, minimal intake for 10 days)", onset="2026-11-08")
case(
    "r10-refeeding-risk-not-measured",
    "10",
    "Leg cramps with refeeding risk and no Mg: mg-not-measured",
    "NICE requires magnesium (with potassium and phosphate) before and during refeeding; low intake plus "
    "refeeding shifts magnesium into cells.",
    "NICE CG32 Nutrition support for adults — https://www.nice.org.uk/guidance/cg32 (warning, not info: the "
    "danger is hours to days away — independent physician review 2026-12-01)",
    c,
    expect(card("mg-not-measured", "warning", [["phosphate"], ["thiamine"]], suggestion=True)),
)

c = Chart("saul-r1007", ADULT, "male")
c.cond("cond-saul-cramp", "Leg cramps", LEG_CRAMP, onset="2026-11-01")
c.cond("cond-saul-hbs", "Hungry bone syndrome after parathyroidectomy", onset="2026-10-20")
case(
    "r10-hungry-bone-not-measured",
    "10",
    "Cramps after parathyroidectomy with hungry bone syndrome, no Mg: mg-not-measured",
    "Hungry bone syndrome drives calcium, phosphate and magnesium into bone; hypomagnesaemia is common and "
    "worsens hypocalcaemia.",
    "Witteveen JE et al. Hungry bone syndrome. Eur J Endocrinol 2013;168:R45 — https://doi.org/10.1530/EJE-12-0528 "
    "(warning: calcium, phosphate and magnesium today — independent physician review 2026-12-01)",
    c,
    expect(card("mg-not-measured", "warning", [["phosphate"], ["calcium"]], suggestion=True)),
)

c = Chart("tess-r1008", ADULT, "female")
c.cond("cond-tess-cramp", "Nocturnal leg cramps", LEG_CRAMP, onset="2026-10-01")
c.cond("cond-tess-cirr", "Cirrhosis of liver", onset="2023-01-01")
c.mg("mg-tess", 0.90)
case(
    "r10-cirrhosis-explains-cramps",
    "10",
    "Leg cramps with cirrhosis and normal Mg: the differential names cirrhosis",
    "Muscle cramps are common in cirrhosis and are an established cause of nocturnal cramps.",
    SRC_AFP,
    c,
    expect(card("leg-differential", "info", [["cirrhosis"]]), absent=["mg-low"]),
)

c = Chart("umar-r1009", ADULT, "male")
c.cond("cond-umar-cramp", "Leg cramps", LEG_CRAMP, onset="2026-10-01")
c.cond("cond-umar-hypot", "Hypothyroidism", onset="2024-01-01")
c.mg("mg-umar", 0.90)
case(
    "r10-hypothyroidism-explains-cramps",
    "10",
    "Leg cramps with hypothyroidism and normal Mg: the differential names hypothyroidism",
    "Hypothyroid myopathy causes cramps and stiffness; it is another cause to consider before magnesium.",
    SRC_AFP,
    c,
    expect(card("leg-differential", "info", [["thyroid"]]), absent=["mg-low"]),
)

# =====================================================================================================
# 11. Age: paediatric upper limits, no adult-only statements for children
# =====================================================================================================
c = Chart("ada-r1101", "2024-05-01", "female")
c.mg("mg-ada", 0.62, ref_range=(0.70, 0.95))
case(
    "r11-child-2y-upper-limit-65mg",
    "11",
    "Child aged 2 with Mg 0.62 mmol/L: the supplemental upper limit is 65 mg/day, not 350 mg",
    "The IOM supplemental UL is 65 mg/day at 1-3 years; quoting the adult 350 mg limit to a prescriber of a "
    "toddler is a five-fold dosing error. Older-adult statements do not apply.",
    f"{SRC_IOM}; {SRC_ODS} (Table: Tolerable Upper Intake Levels)",
    c,
    expect(card("mg-low", "warning", [["65 mg", "65mg"]], ["350 mg", "350mg", *PAEDS_ADULT_ONLY])),
)

c = Chart("ben-r1102", "2020-06-01", "male")
c.mg("mg-benj", 0.62, ref_range=(0.70, 0.95))
case(
    "r11-child-6y-upper-limit-110mg",
    "11",
    "Child aged 6 with Mg 0.62 mmol/L: the supplemental upper limit is 110 mg/day",
    "The IOM supplemental UL at 4-8 years is 110 mg/day.",
    f"{SRC_IOM}; {SRC_ODS}",
    c,
    expect(card("mg-low", "warning", [["110 mg", "110mg"]], ["350 mg", "350mg", *PAEDS_ADULT_ONLY])),
)

c = Chart("cara-r1103", "2018-02-01", "female")
c.cond("cond-cara-pain", "Bilateral leg pain at night (growing pains)", PAIN_LEG, onset="2026-09-01")
c.cond("cond-cara-crohn", "Crohn's disease", CROHNS, onset="2025-01-01")
c.mg("mg-cara", 0.80, ref_range=(0.70, 0.95))
case(
    "r11-child-no-adult-only-statements",
    "11",
    "8-year-old with leg pain and Crohn's: no 'older adults' or 'PAD at 65' statements on any card",
    "Age-based adult statements (older adults absorb less magnesium; PAD likely at >= 65) are wrong and "
    "distracting on a child's chart.",
    f"{SRC_AHA_PAD} (PAD age groups are adult); {SRC_ODS}",
    c,
    expect(none_anywhere=[*PAEDS_ADULT_ONLY, "350 mg"]),
)

# =====================================================================================================
# 12. Noise budget
# =====================================================================================================
c = Chart("dot-r1201", "1942-01-15", "female")
case(
    "r12-age-alone-no-card",
    "12",
    "84-year-old with nothing else on the record: no card",
    "Age is a contextual risk factor at most; a card for every older patient would be switched off by the "
    "CDS committee.",
    f"{SRC_ODS} (older adults a risk group, no threshold); {SRC_ROSANOFF}",
    c,
    expect(no_cards=True),
)

c = Chart("earl-r1202", "1952-08-08", "male")
c.mg("mg-earl", 0.80)
case(
    "r12-low-normal-with-age-only-no-card",
    "12",
    "74-year-old, Mg 0.80 mmol/L inside the lab range, no symptom, no strong risk: no card",
    "Two thirds of adults are below 0.85 mmol/L (NHANES); a low-normal value with only age as context is not "
    "actionable.",
    SRC_ROSANOFF,
    c,
    expect(no_cards=True),
)

c = Chart("fern-r1203", ADULT, "female")
c.mg("mg-fern", 1.7, "mg/dL", ref_range=(1.6, 2.6))
c.cond("cond-fern-cramp", "Leg cramps", LEG_CRAMP, onset="2026-10-01")
case(
    "r12-inside-lab-range-never-low",
    "12",
    "Mg 1.7 mg/dL (0.70 mmol/L) inside the lab's 1.6-2.6 mg/dL range: never 'Low' (mg-low)",
    "When the lab gives a range, a value inside it is not 'low' on the card; the evidence bands may add a "
    "low-normal interpretation.",
    f"{SRC_ROSANOFF} (lab ranges vary; show the lab's own range)",
    c,
    expect(absent=["mg-low"]),
)

c = Chart("gabe-r1204", ADULT, "male")
c.mg("mg-gabe", 0.88)
c.cond("cond-gabe-cramp", "Leg cramps", LEG_CRAMP, onset="2026-10-01")
c.cond("cond-gabe-crohn", "Crohn's disease", CROHNS, onset="2015-01-01")
case(
    "r12-normal-with-risk-fires",
    "12",
    "Mg 0.88 mmol/L with leg cramps and Crohn's disease: normal-with-risk info",
    "Serum magnesium reflects < 1% of body stores; with malabsorption and a symptom, a normal serum level does "
    "not rule out depletion.",
    f"{SRC_IOM}; {SRC_ODS}",
    c,
    expect(card("mg-normal-with-risk", "info"), absent=["mg-low", "mg-low-normal"]),
)

c = Chart("hope-r1205", ADULT, "female")
c.mg("mg-hope", 0.88)
c.cond("cond-hope-cramp", "Leg cramps", LEG_CRAMP, onset="2026-10-01")
c.cond("cond-hope-crohn", "Crohn's disease", CROHNS, onset="2015-01-01")
c.cond(
    "cond-hope-statin",
    "Myalgia caused by statin",
    (SCT, "16462851000119106", "Myalgia caused by statin"),
    onset="2026-09-20",
)
c.statement("ms-hope-ator", "Atorvastatin 40 MG Oral Tablet", ATORVASTATIN, start="2026-08-01")
case(
    "r12-normal-with-risk-suppressed-by-differential",
    "12",
    "Mg 0.88 with cramps and Crohn's, but statin myalgia documented: no normal-with-risk card",
    "When a documented differential (statin myalgia) explains the symptom, a magnesium 'normal but at risk' "
    "card is noise.",
    "2013 ACC/AHA cholesterol guideline statin safety; EAS SAMS consensus 2015 — "
    "https://pmc.ncbi.nlm.nih.gov/articles/PMC4416140/",
    c,
    expect(absent=["mg-normal-with-risk", "mg-low"]),
)

c = Chart("ike-r1206", ADULT, "male")
c.mg("mg-ike", 0.98, ref_range=(0.70, 1.05))
c.cond("cond-ike-cramp", "Leg cramps", LEG_CRAMP, onset="2026-10-01")
c.cond("cond-ike-crohn", "Crohn's disease", CROHNS, onset="2015-01-01")
case(
    "r12-upper-normal-suppressed",
    "12",
    "Mg 0.98 mmol/L (upper-normal) with cramps and Crohn's: no normal-with-risk card",
    "An upper-normal level makes magnesium depletion an unlikely cause of the cramps.",
    f"{SRC_ROSANOFF}; Elin RJ Magnes Res 2010 (0.85-0.95 evidence-based range)",
    c,
    expect(absent=["mg-normal-with-risk", "mg-low", "mg-low-normal"]),
)

c = Chart("joy-r1207", ADULT, "female")
c.cond("cond-joy-cramp", "Leg cramps", LEG_CRAMP, onset="2019-03-01")
c.cond("cond-joy-crohn", "Crohn's disease", CROHNS, onset="2015-01-01")
case(
    "r12-old-problem-list-symptom-not-current",
    "12",
    "Leg cramps recorded in 2019 and never updated, Crohn's, no Mg: no not-measured card",
    "A symptom entry seven years old without recent activity is not a current leg symptom; Crohn's alone is "
    "one strong category.",
    "issue 10 rule 12 (problem-list symptom lookback)",
    c,
    expect(absent=["mg-not-measured"]),
)

# =====================================================================================================
# 13. Statements
# =====================================================================================================
c = Chart("kai-r1301", ADULT, "male")
c.mg("mg-kai", 0.80)
c.cond("cond-kai-crohn", "Crohn's disease", CROHNS, onset="2015-01-01")
case(
    "r13-cochrane-absent-without-cramps",
    "13",
    "Low-normal Mg 0.80 with Crohn's but no cramps: low-normal card without the Cochrane cramps statement",
    "The Cochrane review is about leg cramps; on a card about malabsorption without cramps it is irrelevant.",
    SRC_COCHRANE,
    c,
    expect(card("mg-low-normal", "info", text_none=["Cochrane", "idiopathic"])),
)

c = Chart("lia-r1302", OLDER, "female")
c.mg("mg-lia", 0.80)
c.cond("cond-lia-cramp", "Nocturnal leg cramps", LEG_CRAMP, onset="2026-10-01")
case(
    "r13-cochrane-with-cramps-and-clause",
    "13",
    "Low-normal Mg with nocturnal cramps in an older adult: Cochrane statement with the hypomagnesaemia clause",
    "Magnesium is unlikely to prevent idiopathic cramps in older adults (Cochrane 2020), but that does not "
    "argue against correcting documented hypomagnesaemia; both halves belong on the card.",
    SRC_COCHRANE,
    c,
    expect(card("mg-low-normal", "info", [["Cochrane", "systematic review"], ["hypomagnes", "documented"]])),
)

c = Chart("milo-r1303", ADULT, "male")
c.cond("cond-milo-cramp", "Leg cramps", LEG_CRAMP, onset="2026-10-01")
c.lab("audit-milo", AUDIT_C, 10, "{score}", when="2026-09-01T10:00:00Z")
case(
    "r13-audit-c-high-band-strong",
    "13",
    "Leg cramps with AUDIT-C 10/12 and no Mg: strong alcohol risk, not-measured card shows the score",
    "An AUDIT-C of 10 is in the highest band (probable alcohol dependence); with cramps, measure magnesium "
    "and show the score that drove the card.",
    SRC_AUDIT,
    c,
    expect(card("mg-not-measured", "info", [["AUDIT"], ["10"]], suggestion=True)),
)

c = Chart("nico-r1304", ADULT, "male")
c.cond("cond-nico-cramp", "Leg cramps", LEG_CRAMP, onset="2026-10-01")
c.lab("audit-nico", AUDIT_C, 4, "{score}", when="2026-09-01T10:00:00Z")
case(
    "r13-audit-c-positive-contextual",
    "13",
    "Leg cramps with AUDIT-C 4 (just positive in a man) and no Mg: contextual only, no not-measured card",
    "A positive AUDIT-C screen is hazardous drinking, not established alcohol-related magnesium loss; alone "
    "it is contextual.",
    SRC_AUDIT,
    c,
    expect(absent=["mg-not-measured"]),
)

c = Chart("opal-r1305", ADULT, "female")
c.mg("mg-opal", 0.80)
c.egfr("egfr-opal", 22)
c.cond("cond-opal-ckd4", "Chronic kidney disease stage 4", CKD4, onset="2024-01-01")
c.cond("cond-opal-cramp", "Leg cramps", LEG_CRAMP, onset="2026-10-01")
case(
    "r13-ckd4-food-list-potassium-caveat",
    "13",
    "Low-normal Mg with cramps in CKD G4: food advice carries a potassium caveat",
    "Magnesium-rich foods (nuts, legumes, leafy greens, bananas) are potassium-rich; in CKD G4-5 that advice "
    "needs a potassium caveat.",
    f"{SRC_KDIGO}; KDOQI Clinical Practice Guideline for Nutrition in CKD 2020 — https://doi.org/10.1053/j.ajkd.2020.05.006",
    c,
    expect(card("mg-low-normal", "info", [["potassium"]])),
)


def write_all(target: Path = CASES_DIR) -> None:
    if target.exists():
        shutil.rmtree(target)
    for cid, (bundle, meta) in CASES.items():
        folder = target / cid
        folder.mkdir(parents=True)
        (folder / "bundle.json").write_text(json.dumps(bundle, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (folder / "case.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_all()
    print(f"wrote {len(CASES)} cases to {CASES_DIR}")
