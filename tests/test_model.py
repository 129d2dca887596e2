from __future__ import annotations

import pytest

from service.core.model import Action, Card, Coding, Link, Source, Suggestion

SOURCE = Source("IOM", "https://example.org", Coding("urn:x", "mg-low"))


def card(**kw: object) -> Card:
    args: dict[str, object] = {"uuid": "u", "summary": "s", "indicator": "info", "source": SOURCE}
    args.update(kw)
    return Card(**args)  # type: ignore[arg-type]


def test_card_summary_must_be_under_140_characters() -> None:
    card(summary="x" * 139)
    with pytest.raises(ValueError, match="summary"):
        card(summary="x" * 140)
    with pytest.raises(ValueError, match="summary"):
        card(summary="")


def test_card_indicator_is_one_of_the_three_levels() -> None:
    with pytest.raises(ValueError, match="indicator"):
        card(indicator="hard-stop")


def test_card_source_needs_a_label() -> None:
    with pytest.raises(ValueError, match="label"):
        Source("")


def test_suggestions_need_selection_behavior_and_at_most_one_recommended() -> None:
    action = Action("delete", "Remove the draft order", resource_id="MedicationRequest/1")
    s1 = Suggestion("a", "One", (action,), is_recommended=True)
    s2 = Suggestion("b", "Two", (action,), is_recommended=True)
    with pytest.raises(ValueError, match="selectionBehavior"):
        card(suggestions=(s1,))
    with pytest.raises(ValueError, match="at most one"):
        card(suggestions=(s1, s2), selection_behavior="at-most-one")
    card(suggestions=(s1, s2), selection_behavior="any")


def test_override_reasons_need_a_display() -> None:
    with pytest.raises(ValueError, match="display"):
        card(override_reasons=(Coding("urn:x", "r"),))


def test_actions_follow_the_spec_shapes() -> None:
    with pytest.raises(ValueError, match="resourceId"):
        Action("delete", "d", resource={"resourceType": "X"})
    with pytest.raises(ValueError, match="whole resource"):
        Action("create", "c")
    with pytest.raises(ValueError, match="description"):
        Action("create", "", resource={"resourceType": "X"})


def test_links_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="absolute"):
        Link("label", "/relative")


def test_card_json_omits_empty_optional_fields() -> None:
    out = card(detail="", links=()).to_json()
    assert out == {
        "uuid": "u",
        "summary": "s",
        "indicator": "info",
        "source": {"label": "IOM", "url": "https://example.org", "topic": {"system": "urn:x", "code": "mg-low"}},
    }
