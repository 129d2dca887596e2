"""What create_app builds once and every request uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from .auth import Authenticator
from .core.fhirdata import Extractor
from .core.knowledge import KnowledgeBase
from .fhirclient import FhirSettings


@dataclass(frozen=True, slots=True)
class State:
    """The loaded knowledge base, its compiled extractor, the clock and the UUID source."""

    kb: KnowledgeBase
    extractor: Extractor
    clock: Callable[[], datetime]
    new_uuid: Callable[[], str]
    fhir: FhirSettings
    authenticator: Authenticator | None = None


def current_state() -> State:
    state: State = current_app.extensions["magnesium_cds"]
    return state
