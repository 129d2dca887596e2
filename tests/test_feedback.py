"""Feedback (checklist §6, §12 row 15): validated, 200 with an empty body, logged as structured events."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import requests

from .conftest import SAMPLES, LiveService, load_json

pytestmark = pytest.mark.api
FEEDBACK = "/cds-services/magnesium-order-sign/feedback"


def post(live: LiveService, body: Any, path: str = FEEDBACK) -> requests.Response:
    return requests.post(f"{live.url}{path}", json=body, timeout=10)


def events(live: LiveService, kind: str) -> list[dict[str, Any]]:
    time.sleep(0.2)
    out = []
    for line in live.log.read_text(encoding="utf-8").splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("event") == kind:
                out.append(record)
    return out


def issued_card(live: LiveService) -> dict[str, Any]:
    r = requests.post(
        f"{live.url}/cds-services/magnesium-order-sign",
        json=load_json(SAMPLES / "order-sign-supplement-egfr-25" / "order-sign.json"),
        timeout=10,
    )
    card: dict[str, Any] = r.json()["cards"][0]
    return card


def test_issued_cards_are_logged_once_without_patient_data(live: LiveService) -> None:
    card = issued_card(live)
    (event,) = [e for e in events(live, "card-issued") if e["card"] == card["uuid"]]
    assert event["service"] == "magnesium-order-sign" and event["topic"] == "order-mg-supplement"
    assert event["indicator"] == "critical"
    assert set(event) == {
        "ts",
        "level",
        "pid",
        "requestId",
        "logger",
        "msg",
        "event",
        "service",
        "hookInstance",
        "card",
        "topic",
        "indicator",
    }


def test_accepted_feedback_is_200_empty_and_logged(live: LiveService) -> None:
    card = issued_card(live)
    suggestion = card["suggestions"][0]["uuid"]
    body = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": suggestion}],
                "outcomeTimestamp": "2026-11-15T10:05:31Z",
            }
        ]
    }
    r = post(live, body)
    assert r.status_code == 200 and r.content == b""
    (event,) = [e for e in events(live, "card-feedback") if e["card"] == card["uuid"]]
    assert event["outcome"] == "accepted" and event["acceptedSuggestions"] == [suggestion]


def test_overridden_feedback_with_a_reason_code_only_is_accepted(live: LiveService) -> None:
    card = issued_card(live)
    comment = "patient insists; Ada Sample, DOB 1958"
    body = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": {"code": "benefit-outweighs-risk"}, "userComment": comment},
                "outcomeTimestamp": "2026-11-15T10:06:00.52Z",
            }
        ]
    }
    assert post(live, body).status_code == 200
    (event,) = [e for e in events(live, "card-feedback") if e["card"] == card["uuid"]]
    assert event["overrideReason"] == "benefit-outweighs-risk"
    assert comment not in live.log.read_text(encoding="utf-8")  # free text may hold patient data: never logged


def test_overridden_without_a_reason_and_duplicates_are_harmless(live: LiveService) -> None:
    card_uuid = str(uuid.uuid4())
    body = {"feedback": [{"card": card_uuid, "outcome": "overridden", "outcomeTimestamp": "2026-11-15T10:06:00Z"}]}
    assert post(live, body).status_code == 200
    assert post(live, body).status_code == 200
    assert len([e for e in events(live, "card-feedback") if e["card"] == card_uuid]) == 2


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (
            {"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-11-15T10:05:31Z"},
            "feedback.0.acceptedSuggestions",
        ),
        ({"card": "c", "outcome": "ignored", "outcomeTimestamp": "2026-11-15T10:05:31Z"}, "feedback.0.outcome"),
        ({"card": "c", "outcome": "overridden"}, "feedback.0.outcomeTimestamp"),
        ({"card": "c", "outcome": "overridden", "outcomeTimestamp": "yesterday"}, "feedback.0.outcomeTimestamp"),
        (
            {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-15T10:05:31"},
            "feedback.0.outcomeTimestamp",
        ),
        ({"outcome": "overridden", "outcomeTimestamp": "2026-11-15T10:05:31Z"}, "feedback.0.card"),
        (
            {
                "card": "c",
                "outcome": "accepted",
                "acceptedSuggestions": [{}],
                "outcomeTimestamp": "2026-11-15T10:05:31Z",
            },
            "feedback.0.acceptedSuggestions.0.id",
        ),
    ],
)
def test_malformed_feedback_is_400_naming_the_field(live: LiveService, item: dict[str, Any], field: str) -> None:
    r = post(live, {"feedback": [item]})
    assert r.status_code == 400, r.text
    assert field in [i["expression"][0] for i in r.json()["issue"]]


@pytest.mark.parametrize("body", [{}, {"feedback": []}, {"feedback": "x"}, []])
def test_feedback_body_must_hold_a_feedback_array(live: LiveService, body: Any) -> None:
    assert post(live, body).status_code == 400


def test_feedback_for_an_unknown_service_is_404(live: LiveService) -> None:
    assert post(live, {"feedback": []}, "/cds-services/nope/feedback").status_code == 404


def test_spec_example_feedback_is_accepted(live: LiveService) -> None:
    body = {
        "feedback": [
            {
                "card": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
                "outcomeTimestamp": "2021-12-11T10:05:31Z",
            },
            {
                "card": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
                "outcome": "overridden",
                "overrideReason": {
                    "reason": {"system": "http://example.org/override", "code": "pt-refused"},
                    "userComment": "declined",
                },
                "outcomeTimestamp": "2021-12-11T10:06:00Z",
            },
        ]
    }
    assert post(live, body, "/cds-services/magnesium-leg-symptoms/feedback").status_code == 200
