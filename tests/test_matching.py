"""Matchers: RxNorm ingredient and product codes, ATC, names, salts, ICD-10-CM with and without the dot."""

from __future__ import annotations

import pytest

from service.core.fhirdata import Extractor
from service.core.knowledge import KnowledgeBase
from service.core.matching import CLASSIFY_CACHE_SIZE, MEMO_MAX_CODINGS, MEMO_MAX_TEXT, CodingText

RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"


@pytest.fixture(scope="module")
def extractor(kb: KnowledgeBase) -> Extractor:
    return Extractor(kb)


def meds(
    extractor: Extractor, system: str | None = None, code: str | None = None, display: str | None = None, text: str = ""
) -> dict[str, str]:
    codings = [CodingText(system, code, display)] if system or code or display else []
    return extractor.medications.classify(codings, [text])


def conds(extractor: Extractor, system: str, code: str, display: str | None = None) -> dict[str, str]:
    return extractor.conditions.classify([CodingText(system, code, display)], [])


@pytest.mark.parametrize(
    ("system", "code", "expected"),
    [
        (RX, "7646", {"ppi": "code"}),  # omeprazole ingredient (PDDI)
        (RX, "198051", {"ppi": "code"}),  # omeprazole 20 MG DR capsule (PDDI product)
        (RX, "315971", {"loop-diuretic": "code"}),  # "Lasix 40mg" in Synthea
        (RX, "5487", {"thiazide-diuretic": "code"}),
        (RX, "2555", {"mg-wasting-drug": "code"}),  # cisplatin
        (RX, "3407", {"digoxin": "code"}),
        (RX, "6582", {"mg-supplement": "code"}),  # magnesium oxide
        (RX, "46041", {"bisphosphonate": "code"}),
        (ATC, "A02BC05", {"ppi": "category"}),  # esomeprazole under A02BC
        (ATC, "C03CA01", {"loop-diuretic": "category"}),
        (ATC, "C09DA01", {"thiazide-diuretic": "category"}),  # losartan + diuretic combination
        (ATC, "L01XA03", {"mg-wasting-drug": "category"}),
        (ATC, "A12CC05", {"mg-supplement": "category"}),
        (ATC, "J01MA02", {"fluoroquinolone": "category"}),
        ("http://example.org/other", "7646", {}),  # the code means nothing in another system
        (RX, "1049221", {}),  # oxycodone/acetaminophen
    ],
)
def test_medication_codes(extractor: Extractor, system: str, code: str, expected: dict[str, str]) -> None:
    assert meds(extractor, system, code) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Pantoprazole 40 MG Delayed Release Oral Tablet", {"ppi": "name"}),
        ("Protonix 40 mg", {"ppi": "name"}),
        ("Hydrochlorothiazide 25 MG", {"thiazide-diuretic": "name"}),
        ("10 ML oxaliplatin 5 MG/ML Injection", {"mg-wasting-drug": "name"}),
        ("Digoxin 0.125 MG Oral Tablet", {"digoxin": "name"}),
        ("Magnesium citrate 1.745 GM/30ML oral solution", {"mg-supplement": "name"}),
        ("Magnesium 400 MG Oral Tablet", {"mg-supplement": "name"}),
        ("Esomeprazole magnesium 20 MG", {"ppi": "name"}),  # the salt is not a supplement
        ("Omeprazole magnesium 20 MG", {"ppi": "name"}),
        ("Zegerid with Magnesium Hydroxide", {"ppi": "name"}),  # a PPI product vetoes mg-supplement
        ("pitavastatin magnesium 2 MG Oral Tablet", {"statin": "name"}),
        ("Magnesium stearate (excipient)", {}),
        ("Simvastatin 20 MG Oral Tablet", {"statin": "name"}),
        ("ciprofloxacin 500 MG", {"fluoroquinolone": "name"}),
        ("Foscarnet sodium injection", {"mg-wasting-drug": "name"}),  # RxCUI unverified: name fallback
        ("superomeprazoleX", {}),  # whole words only
    ],
)
def test_medication_names_are_a_whole_word_fallback(extractor: Extractor, name: str, expected: dict[str, str]) -> None:
    assert meds(extractor, display=name) == expected
    assert meds(extractor, text=name) == expected


def test_a_code_match_is_reported_as_code_even_when_the_name_also_matches(extractor: Extractor) -> None:
    assert meds(extractor, RX, "198051", "omeprazole 20 MG Delayed Release Oral Capsule") == {"ppi": "code"}


@pytest.mark.parametrize(
    ("system", "code", "expected"),
    [
        (ICD, "K50.90", {"gi-malabsorption": "category"}),
        (ICD, "K5090", {"gi-malabsorption": "category"}),  # stored without the dot
        (ICD, "k50.90", {"gi-malabsorption": "category"}),
        (ICD, "K90.0", {"gi-malabsorption": "category"}),
        (ICD, "K90.821", {"gi-malabsorption": "category"}),
        (ICD, "F10.20", {"alcohol-use-disorder": "category"}),
        (ICD, "F10.90", {}),  # alcohol use, unspecified: not a use disorder
        (ICD, "E11.9", {"type-2-diabetes": "category"}),
        (ICD, "E11.42", {"type-2-diabetes": "category", "neuropathy": "category"}),
        (ICD, "R25.2", {"leg-cramps": "category"}),
        (ICD, "G25.81", {"restless-legs": "category"}),
        (ICD, "I70.213", {"pad": "category", "claudication": "category"}),
        (ICD, "I87.2", {"venous-insufficiency": "category"}),
        (ICD, "M54.31", {"radiculopathy": "category"}),
        (ICD, "E86.0", {"dehydration": "category"}),
        (ICD, "N18.32", {"ckd": "category"}),
        (ICD, "E87.6", {"hypokalemia": "category"}),
        (SCT, "7200002", {"alcohol-use-disorder": "code"}),
        (SCT, "34000006", {"gi-malabsorption": "code"}),
        (SCT, "44054006", {"type-2-diabetes": "code"}),
        (SCT, "840580004", {"pad": "code"}),
        (SCT, "32914008", {"restless-legs": "code"}),
        (SCT, "38341003", {}),  # hypertension
    ],
)
def test_condition_codes(extractor: Extractor, system: str, code: str, expected: dict[str, str]) -> None:
    assert conds(extractor, system, code) == expected


@pytest.mark.parametrize(
    ("display", "expected"),
    [
        ("Protracted diarrhea", {"gi-malabsorption": "name"}),  # Synthea SNOMED 236077008 is not verified
        ("Chronic venous insufficiency of lower limb", {"venous-insufficiency": "name"}),
        ("Bariatric surgery status", {"gi-malabsorption": "name"}),
        ("Neuropathy due to type 2 diabetes mellitus (disorder)", {"neuropathy": "name", "type-2-diabetes": "name"}),
        ("Nocturnal leg cramps", {"leg-cramps": "name"}),
        ("Acute bronchitis", {}),
    ],
)
def test_condition_names_are_a_fallback(extractor: Extractor, display: str, expected: dict[str, str]) -> None:
    assert conds(extractor, SCT, "000000", display) == expected


def test_memoised_classification_is_a_copy_the_caller_may_change(kb: KnowledgeBase) -> None:
    vocabulary = Extractor(kb).medications
    first = vocabulary.classify([CodingText(RX, "7646", None)], ["omeprazole"])
    first["scribbled"] = "name"
    assert vocabulary.classify([CodingText(RX, "7646", None)], ["omeprazole"]) == {"ppi": "code"}


def test_memo_keys_are_bounded_so_unique_huge_texts_never_accumulate(kb: KnowledgeBase) -> None:
    """60 unique 1 MB condition texts: each is matched (a name inside is still found) but none is remembered."""
    vocabulary = Extractor(kb).conditions
    names_before = vocabulary._by_name_memo.cache_info().currsize
    classified_before = len(vocabulary._classified)
    for i in range(60):
        text = f"{i:04d} " + "x" * 1_000_000 + " type 2 diabetes mellitus"
        assert "type-2-diabetes" in vocabulary.classify([CodingText(SCT, None, text)], [text])
        assert vocabulary.might_name(text)
    assert vocabulary._by_name_memo.cache_info().currsize == names_before
    assert len(vocabulary._classified) == classified_before
    assert all(sum(map(len, texts)) <= MEMO_MAX_TEXT for texts, _ in vocabulary._classified)


def test_classification_memo_holds_at_most_its_size(kb: KnowledgeBase) -> None:
    vocabulary = Extractor(kb).medications
    for i in range(CLASSIFY_CACHE_SIZE + 50):
        vocabulary.classify([CodingText(RX, str(i), None)], [f"drug {i}"])
    assert len(vocabulary._classified) == CLASSIFY_CACHE_SIZE
    # Still right for what was evicted first.
    assert vocabulary.classify([CodingText(RX, "7646", None)], []) == {"ppi": "code"}


def test_concept_readings_are_remembered_by_content_and_bounded(kb: KnowledgeBase) -> None:
    """The extraction reads each distinct code once (ConceptMemo); hostile concepts are read, never kept."""
    extractor = Extractor(kb)
    memo = extractor._condition_readings
    pad = {"coding": [{"system": SCT, "code": "399957001", "display": "Peripheral arterial occlusive disease"}]}
    first = memo(pad)
    assert first is not None and dict(first.classes) == {"pad": "code"}
    again = memo({"coding": [dict(pad["coding"][0])]})  # another object, the same content
    assert again is first and len(memo._memo) == 1
    # A part that is not text is read as absent (and kept apart); unhashable parts are read without a memo.
    assert memo({"text": ["not", "text"], "coding": pad["coding"]}) == first
    assert len(memo._memo) == 1
    # Thousands of codings, or long texts: read (the class is still found), never remembered.
    many = {"coding": [{}] * 5_000 + pad["coding"]}
    long_text = {"text": "x" * 1_000 + " peripheral arterial disease"}
    assert memo(many) == first
    assert (reading := memo(long_text)) is not None and "pad" in reading.classes
    assert len(memo._memo) == 1
    assert all(len(key) <= 1 + 3 * MEMO_MAX_CODINGS for key in memo._memo)
