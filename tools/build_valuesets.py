"""Build rules/valuesets/*.json: FHIR R4 ValueSets with provenance and a verification mark per code.

Two kinds of input:
- HL7 PDDI-CDS value sets (CC0) in ../shared/data/valuesets-pddi: their product-level RxNorm and LOINC
  concepts are copied as they are (mark V1, source = the PDDI file and version).
- Rows of ../shared/reference/clinical-reference.md marked V1 or V2, transcribed below with the section
  they come from. UNVERIFIED rows are not added as codes (their names live in rules/matchers.yaml as a
  clearly marked name-matching fallback).

ATC classes and ICD-10-CM categories are `compose.include.filter` entries with op `is-a` (the code and
everything below it); SNOMED CT, RxNorm and LOINC codes are listed concepts.

Run after changing a definition (tests/test_valuesets_build.py fails while the files are out of date):

    .venv/bin/python tools/build_valuesets.py
"""

from __future__ import annotations

import json
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MAGNESIUM_CDS_SHARED", ROOT.parent / "shared"))
PDDI = SHARED / "data" / "valuesets-pddi"
OUT = ROOT / "rules" / "valuesets"
DATE = "2026-11-22"
VERSION = "0.1.0"

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ATC = "http://www.whocc.no/atc"
VERIFICATION = "urn:magnesium-cds:extension:verification"
SOURCE = "urn:magnesium-cds:extension:source"
FHIR_NS = {"f": "http://hl7.org/fhir"}
REF = "clinical-reference.md"
# Sources found by the terminology review of 2026-12-01 (each code seen literally in the source named).
ICDTAB = "CMS-derived ICD-10-CM table (medtrack-io/icd_code @688bfba0 lib/codes)"
PHARMLIB = "WHO ATC tree in creative-connections/Pharmacolibrary @19beffa69"
VSAC_DIALYSIS = "VSAC Dialysis Services 2.16.840.1.113883.3.464.1003.109.12.1013 (canvas-medical/canvas-plugins v2022)"
VSAC_AI = (
    "VSAC Advanced Illness 2.16.840.1.113883.3.464.1003.110.12.1082 (canvas-medical/canvas-plugins @043d487b v2026)"
)
IPS = "HL7 IPS ConceptMap loinc-pregnancy-status-to-snomed-ct-uv-ips 1.1.0"
BE_IMG = "Belgian eHealth FHIR IG ValueSet be-vs-diagnostic-imaging-indication 1.0.0"

# (system, code, display, mark, source). ATC/ICD-10-CM entries become is-a filters.
Row = tuple[str, str, str, str, str]


def r(system: str, code: str, display: str, mark: str, source: str) -> Row:
    return (system, code, display, mark, source)


# PDDI value sets to copy whole, per project value set, with the concepts to leave out (and why).
PDDI_SETS: dict[str, list[str]] = {
    "ppi": ["omeprazole", "esomeprazole", "lansoprazole", "dexlansoprazole", "pantoprazole", "rabeprazole"],
    "loop-diuretic": ["furosemide", "bumetanide", "torsemide", "ethacrynate"],
}
PDDI_LABS: dict[str, tuple[str, set[str]]] = {
    # potassium: 2824-1 is red-cell potassium, not serum/plasma/blood, so it is left out.
    "potassium": ("potassium-LOINC", {"2824-1"}),
    "calcium": ("calcium-LOINC", set()),
    # renal-LOINC also lists creatinine 2160-0, which is not an eGFR: left out of the eGFR set.
    "egfr": ("renal-LOINC", {"2160-0"}),
    # ... and it is the one creatinine code of that set: the renal-function order suggestion uses it.
    "creatinine": ("renal-LOINC", {"33914-3", "50044-7", "48642-3", "48643-1"}),
}

DEFS: dict[str, dict[str, Any]] = {
    "ppi": {
        "title": "Proton pump inhibitors (RxNorm ingredient and product codes, ATC A02BC/A02BD)",
        "rows": [
            r(ATC, "A02BC", "Proton pump inhibitors", "V1", f"{REF} §3a; Pharmacolibrary ATC tree"),
            r(ATC, "A02BD", "Combinations for eradication of H. pylori (contain a PPI)", "V1", f"{REF} §3a"),
        ],
    },
    "loop-diuretic": {
        "title": "Loop diuretics (RxNorm ingredient and product codes, ATC C03CA/C03CC)",
        "rows": [
            r(ATC, "C03CA", "Sulfonamides, plain (loop diuretics)", "V1", f"{REF} §3b, §6.4"),
            r(ATC, "C03CC", "Aryloxyacetic acid derivatives (ethacrynic acid)", "V1", f"{REF} §3b, §6.4"),
        ],
    },
    "thiazide-diuretic": {
        "title": "Thiazide and thiazide-like diuretics, incl. combinations (RxNorm ingredients, ATC)",
        "rows": [
            r(RXNORM, "5487", "hydrochlorothiazide", "V1", f"{REF} §3c; CPIC; PEDSnet; OHDSI 1035"),
            r(RXNORM, "2409", "chlorthalidone", "V1", f"{REF} §3c; PEDSnet; OHDSI 1035"),
            r(RXNORM, "2396", "chlorothiazide", "V1", f"{REF} §3c; PEDSnet"),
            r(RXNORM, "5764", "indapamide", "V1", f"{REF} §3c; OHDSI 1035"),
            r(RXNORM, "6916", "metolazone", "V1", f"{REF} §3c; OHDSI 1035"),
            r(ATC, "C03AA", "Thiazides, plain", "V1", f"{REF} §3c, §6.4"),
            r(ATC, "C03BA", "Sulfonamides, plain (thiazide-like)", "V1", f"{REF} §3c, §6.4"),
            r(ATC, "C03EA", "Low-ceiling diuretics and potassium-sparing agents", "V1", f"{REF} §3c, §6.4"),
            r(ATC, "C09BA", "ACE inhibitors and diuretics", "V1", f"{REF} §3c, §6.4"),
            r(ATC, "C09DA", "Angiotensin II receptor blockers and diuretics", "V1", f"{REF} §3c, §6.4"),
        ],
    },
    "mg-wasting-drug": {
        "title": "Other magnesium-wasting drugs: aminoglycosides, platinum agents, calcineurin inhibitors, "
        "EGFR antibodies, amphotericin B, pentamidine, foscarnet, sirolimus",
        "rows": [
            r(RXNORM, "1596450", "gentamicin", "V1", f"{REF} §3d; OHDSI 1201"),
            r(RXNORM, "10627", "tobramycin", "V1", f"{REF} §3d; OHDSI 1201"),
            r(RXNORM, "641", "amikacin", "V1", f"{REF} §3d; OHDSI 1201"),
            r(RXNORM, "10109", "streptomycin", "V1", f"{REF} §3d; OHDSI"),
            r(RXNORM, "7299", "neomycin", "V1", f"{REF} §3d; OHDSI"),
            r(ATC, "J01G", "Aminoglycoside antibacterials", "V1", f"{REF} §3d; CPIC drug.sql"),
            r(RXNORM, "732", "amphotericin B", "V2", f"{REF} §3d; RxNav audit"),
            r(ATC, "J02AA01", "amphotericin B (systemic)", "V1", f"{REF} §3d"),
            r(RXNORM, "2555", "cisplatin", "V1", f"{REF} §3d; CPIC; PEDSnet; OHDSI"),
            r(RXNORM, "40048", "carboplatin", "V1", f"{REF} §3d; CPIC; PEDSnet; OHDSI"),
            r(RXNORM, "32592", "oxaliplatin", "V1", f"{REF} §3d; CPIC; OHDSI"),
            r(ATC, "L01XA", "Platinum compounds", "V1", f"{REF} §3d; CPIC"),
            r(
                RXNORM,
                "3008",
                "cyclosporine",
                "V1",
                f"{REF} §3d; CPIC; PEDSnet (PDDI valueset-cyclosporine points to VSAC and lists no codes)",
            ),
            r(RXNORM, "42316", "tacrolimus", "V1", f"{REF} §3d; CPIC; PEDSnet"),
            r(ATC, "L04AD", "Calcineurin inhibitors", "V1", f"{REF} §3d, §6.4"),
            r(RXNORM, "35302", "sirolimus", "V1", f"{REF} §3d (UK SmPC eMC 2678: Mg loss); CPIC"),
            r(ATC, "L04AA10", "sirolimus", "V1", f"{REF} §3d"),
            r(ATC, "J05AD01", "foscarnet", "V1", f"{REF} §3d (RxCUI UNVERIFIED: name fallback)"),
            r(RXNORM, "7994", "pentamidine", "V2", f"{REF} §3d; RxNav audit"),
            r(ATC, "P01CX01", "pentamidine isethionate", "V1", f"{REF} §3d"),
            r(RXNORM, "318341", "cetuximab", "V1", f"{REF} §3d; CPIC; PEDSnet; OHDSI 1278"),
            r(RXNORM, "263034", "panitumumab", "V1", f"{REF} §3d; PEDSnet; OHDSI 1318"),
            r(RXNORM, "1723738", "necitumumab", "V1", f"{REF} §3d; OHDSI"),
            r(ATC, "L01FE", "EGFR (HER1) inhibitors, monoclonal antibodies", "V1", f"{REF} §3d, §6.4"),
            r(ATC, "L01XC06", "cetuximab (ATC before 2022)", "V1", f"{REF} §3d"),
            r(ATC, "L01XC08", "panitumumab (ATC before 2022)", "V1", f"{REF} §3d"),
        ],
    },
    "digoxin": {
        "title": "Digoxin (RxNorm ingredient, ATC C01AA05)",
        "rows": [
            r(
                RXNORM,
                "3407",
                "digoxin",
                "V1",
                f"{REF} §3d; CPIC (PDDI valueset-digoxin = VSAC "
                "2.16.840.1.113762.1.4.1213.125, no codes listed locally)",
            ),
            r(ATC, "C01AA05", "digoxin", "V1", f"{REF} §3d, §6.4"),
        ],
    },
    "statin": {
        "title": "Statins (RxNorm ingredients, ATC C10AA)",
        "rows": [
            r(RXNORM, "83367", "atorvastatin", "V1", f"{REF} §3e; VSAC Statin Allergen 2.16.840.1.113762.1.4.1110.42"),
            r(RXNORM, "36567", "simvastatin", "V1", f"{REF} §3e; VSAC Statin Allergen"),
            r(RXNORM, "301542", "rosuvastatin", "V1", f"{REF} §3e; VSAC Statin Allergen"),
            r(RXNORM, "42463", "pravastatin", "V1", f"{REF} §3e; VSAC Statin Allergen"),
            r(RXNORM, "6472", "lovastatin", "V1", f"{REF} §3e; VSAC Statin Allergen"),
            r(RXNORM, "41127", "fluvastatin", "V1", f"{REF} §3e; VSAC Statin Allergen"),
            r(RXNORM, "861634", "pitavastatin", "V1", f"{REF} §3e; VSAC Statin Allergen"),
            r(ATC, "C10AA", "HMG CoA reductase inhibitors", "V1", f"{REF} §3e, §6.4"),
        ],
    },
    "mg-supplement": {
        "title": "Magnesium supplements and magnesium-containing products (ATC A12CC, A02AA, A06AD magnesium salts, B05XA)",
        "rows": [
            r(RXNORM, "6582", "magnesium oxide", "V2", f"{REF} §3f; RxNav audit"),
            r(RXNORM, "6585", "magnesium sulfate", "V2", f"{REF} §3f; RxNav audit"),
            r(ATC, "A12CC", "Magnesium (mineral supplements)", "V1", f"{REF} §3f"),
            r(ATC, "A02AA", "Magnesium compounds (antacids)", "V1", f"{REF} §3f"),
            # Not the whole A06AD group: it holds lactulose (A06AD11) and macrogol (A06AD15) too.
            r(ATC, "A06AD01", "magnesium carbonate (laxative)", "V1", f"{PHARMLIB} A06AD01_MagnesiumCarbonate"),
            r(ATC, "A06AD02", "magnesium oxide (laxative)", "V1", f"{PHARMLIB} A06AD02_MagnesiumOxide"),
            r(ATC, "A06AD03", "magnesium peroxide (laxative)", "V1", f"{PHARMLIB} A06AD03_MagnesiumPeroxide"),
            r(ATC, "A06AD04", "magnesium sulfate (laxative)", "V1", f"{PHARMLIB} A06AD04_MagnesiumSulfate"),
            r(ATC, "A06AD19", "magnesium citrate (laxative)", "V1", f"{PHARMLIB} A06AD19_MagnesiumCitrate"),
            r(ATC, "B05XA05", "magnesium sulfate (IV solution additive)", "V1", f"{REF} §3f"),
            r(ATC, "B05XA11", "magnesium chloride (IV solution additive)", "V1", f"{REF} §3f"),
        ],
    },
    "bisphosphonate": {
        "title": "Bisphosphonates (chelate with oral magnesium)",
        "rows": [
            r(RXNORM, "46041", "alendronate", "V2", f"{REF} §3g; RxNav audit"),
            r(RXNORM, "77655", "zoledronic acid", "V1", f"{REF} §3g; OHDSI Atlas export"),
            r(ATC, "M05BA", "Bisphosphonates", "V1", f"{REF} §3g; CPIC"),
            r(ATC, "M05BB", "Bisphosphonates, combinations", "V1", f"{REF} §3g"),
        ],
    },
    "tetracycline": {
        "title": "Tetracyclines (chelate with oral magnesium)",
        "rows": [
            r(RXNORM, "10395", "tetracycline", "V1", f"{REF} §3g; OHDSI 1214"),
            r(RXNORM, "3640", "doxycycline", "V1", f"{REF} §3g; OHDSI 1214"),
            r(RXNORM, "6980", "minocycline", "V1", f"{REF} §3g; OHDSI 1214"),
            r(RXNORM, "2059269", "omadacycline", "V1", f"{REF} §3g; OHDSI"),
            r(RXNORM, "2055906", "eravacycline", "V1", f"{REF} §3g; OHDSI"),
            r(ATC, "J01AA", "Tetracyclines", "V1", f"{REF} §3g"),
        ],
    },
    "fluoroquinolone": {
        "title": "Fluoroquinolones (chelate with oral magnesium)",
        "rows": [
            r(RXNORM, "2551", "ciprofloxacin", "V1", f"{REF} §3g; CPIC; OHDSI 1043"),
            r(RXNORM, "82122", "levofloxacin", "V1", f"{REF} §3g; CPIC; OHDSI 1043"),
            r(RXNORM, "139462", "moxifloxacin", "V1", f"{REF} §3g; CPIC; OHDSI 1043"),
            r(RXNORM, "7623", "ofloxacin", "V1", f"{REF} §3g; OHDSI"),
            r(RXNORM, "7517", "norfloxacin", "V1", f"{REF} §3g; CPIC; OHDSI"),
            r(RXNORM, "1927663", "delafloxacin", "V1", f"{REF} §3g; OHDSI"),
            r(RXNORM, "138099", "gemifloxacin", "V1", f"{REF} §3g; OHDSI"),
            r(ATC, "J01MA", "Fluoroquinolones", "V1", f"{REF} §3g"),
        ],
    },
    "alcohol-use-disorder": {
        "title": "Alcohol dependence, abuse and withdrawal (SNOMED CT, ICD-10-CM F10.1/F10.2)",
        "rows": [
            r(
                SNOMED,
                "66590003",
                "Alcohol dependence",
                "V1",
                f"{REF} §4a; VSAC 2.16.840.1.113883.3.464.1003.106.12.1001",
            ),
            r(SNOMED, "7200002", "Alcoholism", "V1", f"{REF} §4a; VSAC Alcohol and Drug Dependence"),
            r(SNOMED, "713583005", "Mild alcohol dependence", "V1", f"{REF} §4a"),
            r(SNOMED, "714829008", "Moderate alcohol dependence", "V1", f"{REF} §4a"),
            r(SNOMED, "713862009", "Severe alcohol dependence", "V1", f"{REF} §4a"),
            r(SNOMED, "15167005", "Alcohol abuse", "V1", f"{REF} §4a"),
            r(SNOMED, "268645007", "Nondependent alcohol abuse", "V1", f"{REF} §4a"),
            r(SNOMED, "191480000", "Alcohol withdrawal syndrome", "V1", f"{REF} §4a; VSAC Alcohol Withdrawal"),
            r(ICD10CM, "F10.1", "Alcohol abuse", "V1", f"{REF} §4a"),
            r(ICD10CM, "F10.2", "Alcohol dependence (incl. withdrawal F10.23x)", "V1", f"{REF} §4a"),
        ],
    },
    "gi-malabsorption": {
        "title": "GI disease with magnesium malabsorption: Crohn's, ulcerative colitis, IBD, celiac, short "
        "bowel, chronic diarrhea, bariatric surgery status, other malabsorption",
        "rows": [
            r(SNOMED, "34000006", "Crohn's disease", "V1", f"{REF} §4a; VSAC Malabsorption Syndromes"),
            r(SNOMED, "38106008", "Crohn's disease of ileum", "V1", f"{REF} §4a"),
            r(SNOMED, "196977009", "Crohn's disease of terminal ileum", "V1", f"{REF} §4a"),
            r(SNOMED, "397173003", "Crohn's disease of intestine", "V1", f"{REF} §4a"),
            r(ICD10CM, "K50", "Crohn's disease", "V1", f"{REF} §4a"),
            r(SNOMED, "64766004", "Ulcerative colitis", "V1", f"{REF} §4a"),
            r(SNOMED, "444546002", "Chronic ulcerative colitis", "V1", f"{REF} §4a"),
            r(ICD10CM, "K51", "Ulcerative colitis", "V1", f"{REF} §4a"),
            r(SNOMED, "24526004", "Inflammatory bowel disease", "V1", f"{REF} §4a"),
            r(SNOMED, "396331005", "Celiac disease", "V1", f"{REF} §4a"),
            r(SNOMED, "91867008", "Celiac disease, adult form", "V1", f"{REF} §4a"),
            r(ICD10CM, "K90.0", "Celiac disease", "V1", f"{REF} §4a"),
            r(SNOMED, "26629001", "Short bowel syndrome", "V1", f"{REF} §4a"),
            r(SNOMED, "235724004", "Acquired short bowel syndrome", "V1", f"{REF} §4a"),
            r(ICD10CM, "K91.2", "Postsurgical malabsorption, not elsewhere classified", "V1", f"{REF} §4a"),
            r(ICD10CM, "K90.82", "Short bowel syndrome (K90.821/K90.822/K90.829)", "V2", f"{REF} §4a"),
            r(SNOMED, "32230006", "Malabsorption syndrome", "V1", f"{REF} §4a"),
            r(SNOMED, "197476001", "Intestinal malabsorption", "V1", f"{REF} §4a"),
            r(ICD10CM, "K90.89", "Other intestinal malabsorption", "V1", f"{REF} §4a"),
            r(ICD10CM, "K90.9", "Intestinal malabsorption, unspecified", "V1", f"{REF} §4a"),
            r(SNOMED, "236071009", "Chronic diarrhea", "V1", f"{REF} §4a; OHDSI 1229"),
            r(SNOMED, "17551007", "Chronic diarrhea of unknown origin", "V1", f"{REF} §4a; OHDSI 1229"),
            r(ICD10CM, "Z98.84", "Bariatric surgery status", "V1", f"{REF} §4a"),
            r(ICD10CM, "Z90.3", "Acquired absence of stomach [part of]", "V1", f"{REF} §4a"),
            r(ICD10CM, "Z98.0", "Intestinal bypass and anastomosis status", "V1", f"{REF} §4a"),
        ],
    },
    "type-2-diabetes": {
        "title": "Type 2 diabetes mellitus",
        "rows": [
            r(SNOMED, "44054006", "Diabetes mellitus type 2", "V1", f"{REF} §4a; VSAC Diabetes"),
            r(ICD10CM, "E11", "Type 2 diabetes mellitus", "V1", f"{REF} §4a"),
        ],
    },
    "ckd": {
        "title": "Chronic kidney disease (any stage)",
        "rows": [
            r(SNOMED, "709044004", "Chronic kidney disease", "V1", f"{REF} §4a; OHDSI 1191"),
            r(SNOMED, "431855005", "Chronic kidney disease stage 1", "V1", f"{REF} §4a; VSAC Kidney Failure"),
            r(SNOMED, "431856006", "Chronic kidney disease stage 2", "V2", f"{REF} §4a"),
            r(SNOMED, "433144002", "Chronic kidney disease stage 3", "V1", f"{REF} §4a"),
            r(SNOMED, "700378005", "Chronic kidney disease stage 3a", "V1", f"{REF} §4a"),
            r(SNOMED, "700379002", "Chronic kidney disease stage 3b", "V1", f"{REF} §4a"),
            r(SNOMED, "431857002", "Chronic kidney disease stage 4", "V1", f"{REF} §4a"),
            r(SNOMED, "433146000", "Chronic kidney disease stage 5", "V1", f"{REF} §4a"),
            r(SNOMED, "46177005", "End-stage renal disease", "V1", f"{REF} §4a"),
            r(ICD10CM, "N18", "Chronic kidney disease", "V1", f"{REF} §4a"),
        ],
    },
    "leg-cramps": {
        "title": "Leg cramps and muscle cramp",
        "rows": [
            r(SNOMED, "449918009", "Cramp in lower leg", "V2", f"{REF} §4c"),
            r(SNOMED, "55300003", "Muscle cramp", "V2", f"{REF} §4c"),
            r(ICD10CM, "R25.2", "Cramp and spasm", "V1", f"{REF} §4c"),
        ],
    },
    "restless-legs": {
        "title": "Restless legs syndrome",
        "rows": [
            r(SNOMED, "32914008", "Restless legs", "V1", f"{REF} §4c; OHDSI 311"),
            r(ICD10CM, "G25.81", "Restless legs syndrome", "V1", f"{REF} §4c"),
        ],
    },
    "muscle-spasm": {
        "title": "Muscle spasm",
        "rows": [
            r(SNOMED, "45352006", "Spasm", "V2", f"{REF} §4c"),
            r(ICD10CM, "M62.838", "Other muscle spasm", "V1", f"{REF} §4c"),
        ],
    },
    "leg-pain": {
        "title": "Leg pain",
        "rows": [
            r(SNOMED, "90834002", "Pain in limb", "V2", f"{REF} §4b"),
            r(ICD10CM, "M79.604", "Pain in right leg", "V1", f"{REF} §4b"),
            r(ICD10CM, "M79.605", "Pain in left leg", "V1", f"{REF} §4b"),
            r(ICD10CM, "M79.606", "Pain in leg, unspecified", "V1", f"{REF} §4b"),
            r(ICD10CM, "M79.661", "Pain in right lower leg", "V1", f"{REF} §4b"),
            r(ICD10CM, "M79.662", "Pain in left lower leg", "V1", f"{REF} §4b"),
            r(ICD10CM, "M79.669", "Pain in lower leg, unspecified", "V1", f"{REF} §4b"),
        ],
    },
    "pad": {
        "title": "Peripheral arterial disease and intermittent claudication",
        "rows": [
            r(SNOMED, "840580004", "Peripheral arterial disease", "V1", f"{REF} §4b; OHDSI 371, 1157"),
            r(SNOMED, "399957001", "Peripheral arterial occlusive disease", "V1", f"{REF} §4b"),
            r(SNOMED, "400047006", "Peripheral vascular disease", "V1", f"{REF} §4b"),
            r(SNOMED, "51274000", "Atherosclerosis of arteries of extremities", "V1", f"{REF} §4b"),
            r(ICD10CM, "I73.9", "Peripheral vascular disease, unspecified", "V1", f"{REF} §4b"),
            r(
                ICD10CM,
                "I70.2",
                "Atherosclerosis of native arteries of extremities (I70.20x-I70.22x)",
                "V1",
                f"{REF} §4b; VSAC 2.16.840.1.113762.1.4.1047.21",
            ),
        ],
    },
    "venous-insufficiency": {
        "title": "Chronic venous insufficiency and varicose veins of the legs",
        "rows": [
            r(ICD10CM, "I87.2", "Venous insufficiency (chronic) (peripheral)", "V1", f"{REF} §4b"),
            r(ICD10CM, "I87.30", "Chronic venous hypertension without complications", "V1", f"{REF} §4b"),
            r(ICD10CM, "I83", "Varicose veins of lower extremities", "V1", f"{REF} §4b"),
            r(SNOMED, "72866009", "Varicose veins of lower extremity", "V2", f"{REF} §4b"),
        ],
    },
    "neuropathy": {
        "title": "Peripheral, diabetic and alcoholic neuropathy",
        "rows": [
            r(SNOMED, "302226006", "Peripheral neuropathy", "V2", f"{REF} §4b"),
            r(SNOMED, "22722001", "Idiopathic peripheral neuropathy", "V1", f"{REF} §4b"),
            r(SNOMED, "424736006", "Diabetic peripheral neuropathy", "V1", f"{REF} §4b"),
            r(SNOMED, "7916009", "Alcoholic polyneuropathy", "V1", f"{REF} §4b"),
            r(SNOMED, "789588003", "Peripheral sensory neuropathy", "V2", f"{REF} §4b"),
            r(
                ICD10CM,
                "G62",
                "Other and unspecified polyneuropathies (G62.0, G62.1, G62.89, G62.9)",
                "V1",
                f"{REF} §4b",
            ),
            r(ICD10CM, "G60.9", "Hereditary and idiopathic neuropathy, unspecified", "V1", f"{REF} §4b"),
            r(ICD10CM, "G63", "Polyneuropathy in diseases classified elsewhere", "V1", f"{REF} §4b"),
            r(ICD10CM, "E11.40", "Type 2 diabetes with diabetic neuropathy, unspecified", "V1", f"{REF} §4b"),
            r(ICD10CM, "E11.42", "Type 2 diabetes with diabetic polyneuropathy", "V1", f"{REF} §4b"),
        ],
    },
    "radiculopathy": {
        "title": "Sciatica and lumbar radiculopathy",
        "rows": [
            r(SNOMED, "23056005", "Sciatica", "V2", f"{REF} §4b"),
            r(SNOMED, "307177001", "Chronic sciatica", "V1", f"{REF} §4b"),
            r(SNOMED, "128196005", "Lumbar radiculopathy", "V1", f"{REF} §4b; OHDSI 279"),
            r(ICD10CM, "M54.3", "Sciatica (M54.30-M54.32)", "V1", f"{REF} §4b"),
            r(ICD10CM, "M54.4", "Lumbago with sciatica (M54.40-M54.42)", "V1", f"{REF} §4b"),
            r(ICD10CM, "G57.0", "Lesion of sciatic nerve", "V1", f"{REF} §4b"),
            r(ICD10CM, "M54.16", "Radiculopathy, lumbar region", "V1", f"{REF} §4b"),
            r(ICD10CM, "M54.17", "Radiculopathy, lumbosacral region", "V1", f"{REF} §4b"),
            # Neurogenic claudication of lumbar stenosis is radiculopathy, not PAD.
            r(
                ICD10CM,
                "M48.06",
                "Spinal stenosis, lumbar region (M48.061, M48.062 with neurogenic claudication)",
                "V1",
                f"{ICDTAB} codes_m48 (M48.062: V2, VA VistA and 3 code lists)",
            ),
            r(ICD10CM, "M48.07", "Spinal stenosis, lumbosacral region", "V1", f"{ICDTAB} codes_m48"),
        ],
    },
    "dehydration": {
        "title": "Dehydration and volume depletion",
        "rows": [
            r(SNOMED, "34095006", "Dehydration", "V2", f"{REF} §4b"),
            r(ICD10CM, "E86", "Volume depletion (E86.0 dehydration, E86.1 hypovolemia, E86.9)", "V1", f"{REF} §4b"),
        ],
    },
    "statin-myopathy": {
        "title": "Statin-associated muscle symptoms and drug-induced myopathy",
        "rows": [
            r(SNOMED, "16462851000119106", "Myalgia caused by statin", "V1", f"{REF} §4b; VSAC SAMS"),
            r(SNOMED, "240101000", "Drug-induced myopathy", "V1", f"{REF} §4b"),
            r(SNOMED, "240131006", "Rhabdomyolysis", "V1", f"{REF} §4b"),
            r(ICD10CM, "G72.0", "Drug-induced myopathy", "V1", f"{REF} §4b"),
            r(ICD10CM, "M62.82", "Rhabdomyolysis", "V1", f"{REF} §4b"),
            r(ICD10CM, "T46.6X5", "Adverse effect of antihyperlipidemic drugs", "V1", f"{REF} §4b"),
        ],
    },
    "hypokalemia": {
        "title": "Hypokalemia (diagnosis)",
        "rows": [
            r(SNOMED, "43339004", "Hypokalemia", "V1", f"{REF} §4c; OHDSI 585"),
            r(ICD10CM, "E87.6", "Hypokalemia", "V1", f"{REF} §4c"),
        ],
    },
    "hypocalcemia": {
        "title": "Hypocalcemia (diagnosis)",
        "rows": [
            r(SNOMED, "5291005", "Hypocalcemia", "V2", f"{REF} §4c"),
            r(ICD10CM, "E83.51", "Hypocalcemia", "V1", f"{REF} §4c"),
        ],
    },
    "audit-c": {
        "title": "AUDIT-C total score (LOINC)",
        "rows": [
            r(LOINC, "75626-2", "Total score [AUDIT-C]", "V1", f"{REF} §1c; US Core example"),
        ],
    },
}

# Classes added for the clinical safety review (issue 10). Codes are those the terminology review found
# literally in an authoritative source (V1) or in two independent ones (V2); the rest are name-only in
# rules/matchers.yaml.
DEFS.update(
    {
        "functional-diarrhoea": {
            "title": "Irritable bowel syndrome with diarrhoea and functional diarrhoea (contextual risk)",
            "rows": [
                r(ICD10CM, "K59.1", "Functional diarrhea", "V1", f"{REF} §4a"),
                r(ICD10CM, "K58.0", "Irritable bowel syndrome with diarrhea", "V1", f"{REF} §4a"),
            ],
        },
        "claudication": {
            "title": "Intermittent claudication (symptom of PAD)",
            "rows": [
                r(SNOMED, "63491006", "Intermittent claudication", "V1", f"{REF} §4b; OHDSI 13"),
                r(SNOMED, "792845002", "Claudication due to atherosclerosis of artery of limb", "V1", f"{REF} §4b"),
                r(
                    ICD10CM,
                    "I70.21",
                    "Atherosclerosis of native arteries of extremities with intermittent claudication",
                    "V1",
                    f"{REF} §4b",
                ),
            ],
        },
        "limb-threatening-ischaemia": {
            "title": "Chronic limb-threatening ischaemia: rest pain, ulceration, gangrene",
            "rows": [
                r(
                    ICD10CM,
                    "I70.22",
                    "Atherosclerosis of native arteries of extremities with rest pain",
                    "V1",
                    f"{REF} §4b; {ICDTAB} codes_i70",
                ),
                r(
                    ICD10CM,
                    "I70.23",
                    "Atherosclerosis of native arteries of right leg with ulceration",
                    "V1",
                    f"{ICDTAB} codes_i70",
                ),
                r(
                    ICD10CM,
                    "I70.24",
                    "Atherosclerosis of native arteries of left leg with ulceration",
                    "V1",
                    f"{ICDTAB} codes_i70",
                ),
                r(
                    ICD10CM,
                    "I70.25",
                    "Atherosclerosis of native arteries of other extremities with ulceration",
                    "V1",
                    f"{ICDTAB} codes_i70",
                ),
                r(
                    ICD10CM,
                    "I70.26",
                    "Atherosclerosis of native arteries of extremities with gangrene",
                    "V1",
                    f"{ICDTAB} codes_i70",
                ),
                r(ICD10CM, "I96", "Gangrene, not elsewhere classified", "V1", f"{ICDTAB} codes_i96"),
                r(SNOMED, "372070002", "Gangrenous disorder", "V1", "SNOMED International authoring template source"),
            ],
        },
        "acute-limb-ischaemia": {
            "title": "Acute limb ischaemia: arterial embolism or thrombosis of the legs",
            "rows": [
                r(
                    ICD10CM,
                    "I74.3",
                    "Embolism and thrombosis of arteries of the lower extremities",
                    "V1",
                    f"{ICDTAB} codes_i74",
                ),
                r(
                    ICD10CM,
                    "I74.4",
                    "Embolism and thrombosis of arteries of extremities, unspecified",
                    "V1",
                    f"{ICDTAB} codes_i74",
                ),
                r(SNOMED, "1230182004", "Acute lower limb ischemia", "V1", BE_IMG),
            ],
        },
        "leg-swelling": {
            "title": "Swelling or oedema of the leg",
            "rows": [
                r(SNOMED, "102572006", "Edema of lower extremity", "V1", BE_IMG),
                r(
                    ICD10CM,
                    "R22.4",
                    "Localized swelling, mass and lump, lower limb (R22.40-R22.43)",
                    "V1",
                    f"{ICDTAB} codes_r22",
                ),
            ],
        },
        "calf-pain": {
            "title": "Calf (lower-leg) pain",
            "rows": [
                r(ICD10CM, "M79.661", "Pain in right lower leg", "V1", f"{REF} §4b"),
                r(ICD10CM, "M79.662", "Pain in left lower leg", "V1", f"{REF} §4b"),
                r(ICD10CM, "M79.669", "Pain in lower leg, unspecified", "V1", f"{REF} §4b"),
            ],
        },
        "ckd-severe": {
            "title": "Chronic kidney disease stage 4-5 and end-stage renal disease",
            "rows": [
                r(SNOMED, "431857002", "Chronic kidney disease stage 4", "V1", f"{REF} §4a"),
                r(SNOMED, "433146000", "Chronic kidney disease stage 5", "V1", f"{REF} §4a"),
                r(SNOMED, "46177005", "End-stage renal disease", "V1", f"{REF} §4a"),
                r(ICD10CM, "N18.4", "Chronic kidney disease, stage 4", "V1", f"{REF} §4a"),
                r(ICD10CM, "N18.5", "Chronic kidney disease, stage 5", "V1", f"{REF} §4a"),
                r(ICD10CM, "N18.6", "End stage renal disease", "V1", f"{REF} §4a"),
            ],
        },
        "dialysis": {
            "title": "Dialysis dependence and dialysis procedures",
            "rows": [
                r(ICD10CM, "Z99.2", "Dependence on renal dialysis", "V1", f"{ICDTAB} codes_z99"),
                r(ICD10CM, "Z49", "Encounter for care involving renal dialysis", "V1", f"{ICDTAB} codes_z49"),
                r(
                    SNOMED,
                    "105502003",
                    "Dependence on renal dialysis",
                    "V1",
                    "COVID-19 FHIR IG renal-conditions ValueSet; NHS termbrowser guidance",
                ),
                *[
                    r(SNOMED, code, display, "V1", VSAC_DIALYSIS)
                    for code, display in [
                        ("302497006", "Hemodialysis"),
                        ("71192002", "Peritoneal dialysis"),
                        ("108241001", "Dialysis procedure"),
                        ("265764009", "Renal dialysis"),
                        ("233575001", "Intermittent hemodialysis"),
                        ("233578004", "Continuous hemodialysis"),
                        ("34897002", "Hemodialysis, maintenance in hospital"),
                        ("67970008", "Hemodialysis, maintenance at home"),
                        ("233586004", "Hemodiafiltration"),
                        ("225230008", "Chronic peritoneal dialysis"),
                        ("238318009", "Continuous ambulatory peritoneal dialysis"),
                        ("238319001", "Continuous cycling peritoneal dialysis"),
                        ("428648006", "Automated peritoneal dialysis"),
                        ("714749008", "Continuous renal replacement therapy"),
                    ]
                ],
            ],
        },
        "hypomagnesemia": {
            "title": "Hypomagnesemia (diagnosis)",
            "rows": [
                r(SNOMED, "190855004", "Hypomagnesemia", "V1", f"{REF} §4c; OHDSI 942"),
                r(ICD10CM, "E83.42", "Hypomagnesemia", "V1", f"{REF} §4c"),
            ],
        },
        "pregnancy": {
            "title": "Pregnancy (current)",
            "rows": [
                r(SNOMED, "77386006", "Pregnancy", "V1", f"{IPS}; SNOMED International release notes"),
                r(ICD10CM, "Z33.1", "Pregnant state, incidental", "V1", f"{ICDTAB} codes_z33"),
                r(ICD10CM, "Z33.3", "Pregnant state, gestational carrier", "V1", f"{ICDTAB} codes_z33"),
                r(ICD10CM, "Z34", "Encounter for supervision of normal pregnancy", "V1", f"{ICDTAB} codes_z34"),
            ],
        },
        "pre-eclampsia": {
            "title": "Pre-eclampsia, HELLP and eclampsia",
            "rows": [
                r(SNOMED, "398254007", "Pre-eclampsia", "V1", "HL7 FHIR R4 example procedure-example-ambulation"),
                r(SNOMED, "15938005", "Eclampsia", "V1", "HL7 Birth and Fetal Death Reporting IG examples"),
                r(ICD10CM, "O14", "Pre-eclampsia (O14.0x-O14.9x, incl. HELLP O14.2x)", "V1", f"{ICDTAB} codes_o14"),
                r(ICD10CM, "O15", "Eclampsia", "V1", f"{ICDTAB} codes_o15"),
            ],
        },
        "tetany": {
            "title": "Tetany",
            "rows": [r(ICD10CM, "R29.0", "Tetany", "V1", f"{ICDTAB} codes_r29")],
        },
        "arrhythmia": {
            "title": "Ventricular arrhythmia, torsades de pointes, long QT",
            "rows": [
                r(
                    ICD10CM,
                    "I47.2",
                    "Ventricular tachycardia (incl. torsades de pointes I47.21)",
                    "V1",
                    f"{ICDTAB} codes_i47",
                ),
                r(ICD10CM, "I47.0", "Re-entry ventricular arrhythmia", "V1", f"{ICDTAB} codes_i47"),
                r(ICD10CM, "I49.01", "Ventricular fibrillation", "V1", f"{ICDTAB} codes_i49"),
                r(ICD10CM, "I45.81", "Long QT syndrome", "V1", f"{ICDTAB} codes_i45"),
            ],
        },
        "seizure": {
            "title": "Seizure",
            "rows": [
                r(ICD10CM, "R56", "Convulsions, not elsewhere classified", "V1", f"{ICDTAB} codes_r56"),
                r(SNOMED, "91175000", "Seizure", "V2", "FHIR IG Questionnaire; CTAS-SNOMED anchor map"),
            ],
        },
        "fasciculation": {
            "title": "Fasciculation (muscle twitching)",
            "rows": [r(ICD10CM, "R25.3", "Fasciculation", "V1", f"{ICDTAB} codes_r25")],
        },
        "paraesthesia": {
            "title": "Paraesthesia (numbness, tingling)",
            "rows": [r(ICD10CM, "R20.2", "Paresthesia of skin", "V1", f"{ICDTAB} codes_r20")],
        },
        "weakness-fatigue": {
            "title": "Weakness and fatigue (contextual symptoms)",
            "rows": [
                r(ICD10CM, "R53.1", "Weakness", "V1", f"{ICDTAB} codes_r53"),
                r(ICD10CM, "R53.83", "Other fatigue", "V1", f"{ICDTAB} codes_r53"),
                r(ICD10CM, "M62.81", "Muscle weakness (generalized)", "V2", "5 independent public code lists"),
            ],
        },
        "cirrhosis": {
            "title": "Cirrhosis of the liver",
            "rows": [
                r(SNOMED, "19943007", "Cirrhosis of liver", "V1", VSAC_AI),
                r(ICD10CM, "K74.6", "Other and unspecified cirrhosis of liver", "V1", VSAC_AI),
                r(ICD10CM, "K70.3", "Alcoholic cirrhosis of liver", "V1", VSAC_AI),
            ],
        },
        "hypothyroidism": {
            "title": "Hypothyroidism",
            "rows": [
                r(ICD10CM, "E03", "Other hypothyroidism", "V1", f"{ICDTAB} codes_e03"),
                r(SNOMED, "40930008", "Hypothyroidism", "V2", ">= 4 public ICD-SNOMED maps"),
            ],
        },
        "malnutrition": {
            "title": "Protein-calorie malnutrition",
            "rows": [
                r(ICD10CM, code, display, "V1", f"{ICDTAB} codes_{code[:3].lower()}")
                for code, display in [
                    ("E43", "Unspecified severe protein-calorie malnutrition"),
                    ("E44", "Protein-calorie malnutrition of moderate and mild degree"),
                    ("E46", "Unspecified protein-calorie malnutrition"),
                ]
            ],
        },
        "hungry-bone": {
            "title": "Hungry bone syndrome",
            "rows": [r(ICD10CM, "E83.81", "Hungry bone syndrome", "V1", f"{ICDTAB} codes_e83")],
        },
        "magnesium-sulfate": {
            "title": "Magnesium sulfate (RxNorm, ATC)",
            "rows": [
                r(RXNORM, "6585", "magnesium sulfate", "V2", f"{REF} §3f; RxNav audit"),
                r(ATC, "B05XA05", "magnesium sulfate (IV solution additive)", "V1", f"{REF} §3f"),
                r(ATC, "A12CC02", "magnesium sulfate (mineral supplement)", "V1", f"{REF} §3f"),
                r(ATC, "A06AD04", "magnesium sulfate (laxative)", "V1", f"{PHARMLIB} A06AD04_MagnesiumSulfate"),
            ],
        },
        "h-pylori-pack": {
            "title": "Combinations for eradication of Helicobacter pylori (short courses containing a PPI)",
            "rows": [r(ATC, "A02BD", "Combinations for eradication of H. pylori", "V1", f"{REF} §3a")],
        },
        "egfr-antibody": {
            "title": "EGFR monoclonal antibodies (cetuximab, panitumumab, necitumumab)",
            "rows": [
                r(RXNORM, "318341", "cetuximab", "V1", f"{REF} §3d; CPIC; PEDSnet; OHDSI 1278"),
                r(RXNORM, "263034", "panitumumab", "V1", f"{REF} §3d; PEDSnet; OHDSI 1318"),
                r(RXNORM, "1723738", "necitumumab", "V1", f"{REF} §3d; OHDSI"),
                r(ATC, "L01FE", "EGFR (HER1) inhibitors, monoclonal antibodies", "V1", f"{REF} §3d, §6.4"),
            ],
        },
        "thyroid-hormone": {
            "title": "Levothyroxine (chelates with oral magnesium)",
            "rows": [
                r(RXNORM, "10582", "levothyroxine", "V2", ">= 2 public code maps"),
                r(ATC, "H03AA01", "levothyroxine sodium", "V1", f"{PHARMLIB} H03AA01_LevothyroxineSodium"),
            ],
        },
        "integrase-inhibitor": {
            "title": "HIV integrase inhibitors (chelate with polyvalent cations)",
            "rows": [r(ATC, "J05AJ03", "dolutegravir", "V1", f"{PHARMLIB} J05AJ03_Dolutegravir")],
        },
        "oral-iron": {
            "title": "Oral iron (chelates with oral magnesium)",
            "rows": [r(ATC, "B03AA07", "ferrous sulfate", "V1", f"{PHARMLIB} B03AA07_FerrousSulfate")],
        },
        "family-history": {
            "title": "Family history (about relatives, never the patient's own condition)",
            "rows": [
                r(ICD10CM, "Z83", "Family history of other specific disorders", "V1", f"{ICDTAB} codes_z83"),
                r(ICD10CM, "Z84", "Family history of other conditions", "V1", f"{ICDTAB} codes_z84"),
            ],
        },
        "creatine-kinase": {
            "title": "Creatine kinase (LOINC), for statin muscle-symptom work-up orders",
            "rows": [
                r(
                    LOINC,
                    "2157-6",
                    "Creatine kinase [Enzymatic activity/volume] in Serum or Plasma",
                    "V1",
                    f"{REF} §1b; LHNCBC h17.js",
                )
            ],
        },
        "ferritin": {
            "title": "Ferritin (LOINC), for restless-legs iron work-up orders",
            "rows": [r(LOINC, "2276-4", "Ferritin [Mass/volume] in Serum or Plasma", "V2", f"{REF} §1b")],
        },
        "iron-saturation": {
            "title": "Iron saturation (LOINC), for restless-legs iron work-up orders",
            "rows": [r(LOINC, "2502-3", "Iron saturation [Mass Fraction] in Serum or Plasma", "V2", f"{REF} §1b")],
        },
        "pregnancy-status": {
            "title": "Pregnancy status observation (LOINC)",
            "rows": [r(LOINC, "82810-3", "Pregnancy status", "V1", IPS)],
        },
        "remission": {
            "title": "Conditions coded as in remission",
            "rows": [r(ICD10CM, "F10.21", "Alcohol dependence, in remission", "V1", f"{REF} §4a")],
        },
    }
)
# Lab value sets already written by hand (serum-magnesium, non-serum-magnesium) are left alone.


def _concept(code: str, display: str, mark: str, source: str) -> dict[str, Any]:
    return {
        "code": code,
        "display": display,
        "extension": [
            {"url": VERIFICATION, "valueCode": mark},
            {"url": SOURCE, "valueString": source},
        ],
    }


def _pddi(name: str) -> tuple[list[tuple[str, str, str]], str, str]:
    """(system, code, display) concepts of a PDDI value set, its version and date."""
    tree = ET.parse(PDDI / f"valueset-{name}.xml")
    root = tree.getroot()
    version = root.find("f:version", FHIR_NS)
    date = root.find("f:date", FHIR_NS)
    out: list[tuple[str, str, str]] = []
    for include in root.findall("f:compose/f:include", FHIR_NS):
        system = include.find("f:system", FHIR_NS).get("value", "")  # type: ignore[union-attr]
        for concept in include.findall("f:concept", FHIR_NS):
            code = concept.find("f:code", FHIR_NS).get("value", "")  # type: ignore[union-attr]
            display = concept.find("f:display", FHIR_NS)
            out.append((system, code, display.get("value", code) if display is not None else code))
    return (
        out,
        version.get("value", "") if version is not None else "",
        date.get("value", "") if date is not None else "",
    )


def build(vs_id: str) -> dict[str, Any]:
    spec = DEFS.get(vs_id, {"title": "", "rows": []})
    includes: dict[str, dict[str, Any]] = {}
    sources: list[str] = []

    def include(system: str) -> dict[str, Any]:
        return includes.setdefault(system, {"system": system})

    for pddi in PDDI_SETS.get(vs_id, []):
        concepts, version, date = _pddi(pddi)
        src = f"HL7 PDDI-CDS valueset-{pddi} (version {version}, {date}, CC0)"
        sources.append(src)
        for system, code, display in concepts:
            include(system).setdefault("concept", []).append(_concept(code, display, "V1", src))
    if vs_id in PDDI_LABS:
        pddi, leave_out = PDDI_LABS[vs_id]
        concepts, version, date = _pddi(pddi)
        src = f"HL7 PDDI-CDS valueset-{pddi} (version {version}, {date}, CC0)"
        sources.append(src + (f"; left out: {', '.join(sorted(leave_out))}" if leave_out else ""))
        for system, code, display in concepts:
            if code not in leave_out:
                include(system).setdefault("concept", []).append(_concept(code, display, "V1", src))
    for system, code, display, mark, source in spec["rows"]:
        if system in (ATC, ICD10CM):
            flt = {
                "property": "concept",
                "op": "is-a",
                "value": code,
                "extension": [
                    {"url": VERIFICATION, "valueCode": mark},
                    {"url": SOURCE, "valueString": f"{display} — {source}"},
                ],
            }
            include(system).setdefault("filter", []).append(flt)
        else:
            include(system).setdefault("concept", []).append(_concept(code, display, mark, source))
    sources.append("shared/reference/clinical-reference.md (V1/V2 rows; UNVERIFIED rows not added)")
    title = spec["title"] or LAB_TITLES[vs_id]
    return {
        "resourceType": "ValueSet",
        "id": vs_id,
        "extension": [{"url": SOURCE, "valueString": "; ".join(sources)}],
        "url": f"urn:magnesium-cds:ValueSet:{vs_id}",
        "version": VERSION,
        "name": "".join(part.capitalize() for part in vs_id.split("-")),
        "title": title,
        "status": "active",
        "date": DATE,
        "publisher": "magnesium-cds",
        "description": f"{title}. Built by tools/build_valuesets.py; each code carries its verification mark "
        "(V1/V2) and source.",
        "compose": {"include": [includes[s] for s in sorted(includes)]},
    }


LAB_TITLES = {
    "creatinine": "Creatinine in serum, plasma or blood (LOINC), for renal-function orders",
    "potassium": "Potassium in serum, plasma or blood (LOINC)",
    "calcium": "Calcium, total and ionized, in serum, plasma or blood (LOINC)",
    "egfr": "Estimated glomerular filtration rate (LOINC)",
}
# eGFR codes beyond the PDDI renal set (clinical-reference.md §1b, VSAC eGFR 2.16.840.1.113883.3.6929.3.1000).
DEFS["egfr"] = {
    "title": "",
    "rows": [
        r(LOINC, code, display, "V1", f"{REF} §1b; VSAC eGFR 2.16.840.1.113883.3.6929.3.1000")
        for code, display in [
            ("98979-8", "eGFR CKD-EPI 2021 (creatinine)"),
            ("98980-6", "eGFR CKD-EPI 2021 (creatinine and cystatin C)"),
            ("62238-1", "eGFR CKD-EPI (creatinine)"),
            ("88293-6", "eGFR CKD-EPI (creatinine), black population"),
            ("88294-4", "eGFR CKD-EPI (creatinine), non-black population"),
            ("94677-2", "eGFR CKD-EPI (creatinine and cystatin C)"),
            ("50210-4", "eGFR (cystatin C)"),
            ("77147-7", "eGFR MDRD"),
            ("70969-1", "eGFR MDRD"),
            ("69405-9", "eGFR, method unspecified"),
        ]
    ],
}
DEFS["potassium"] = {
    "title": "",
    "rows": [
        r(
            LOINC,
            "77142-8",
            "Potassium [Moles/volume] in Serum, Plasma or Blood",
            "V1",
            f"{REF} §1b; VSAC 2.16.840.1.113762.1.4.1045.117",
        ),
    ],
}
DEFS["creatinine"] = {
    "title": "",
    "rows": [
        r(
            LOINC,
            "38483-4",
            "Creatinine [Mass/volume] in Blood",
            "V1",
            f"{REF} §1b; VSAC 2.16.840.1.113762.1.4.1248.21",
        ),
        r(
            LOINC,
            "21232-4",
            "Creatinine [Mass/volume] in Arterial blood",
            "V1",
            f"{REF} §1b; VSAC 2.16.840.1.113762.1.4.1248.21",
        ),
        r(LOINC, "14682-9", "Creatinine [Moles/volume] in Serum or Plasma", "V1", f"{REF} §1b; LHNCBC h17.js"),
    ],
}
DEFS["calcium"] = {
    "title": "",
    "rows": [
        r(LOINC, "2000-8", "Calcium [Moles/volume] in Serum or Plasma", "V1", f"{REF} §1b; LHNCBC h17.js"),
        r(LOINC, "17863-2", "Calcium.ionized [Mass/volume] in Serum or Plasma", "V1", f"{REF} §1b; LHNCBC h17.js"),
    ],
}


def render(vs_id: str) -> str:
    return json.dumps(build(vs_id), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    if not PDDI.is_dir():
        sys.exit(f"PDDI value sets not found at {PDDI}; set MAGNESIUM_CDS_SHARED")
    for vs_id in sorted(DEFS):
        (OUT / f"{vs_id}.json").write_text(render(vs_id), encoding="utf-8")
        print(f"wrote rules/valuesets/{vs_id}.json")


if __name__ == "__main__":
    main()
