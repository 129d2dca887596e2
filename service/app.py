"""Building the WSGI app: configuration, knowledge base, routes, security, errors."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from . import api, errors, events, observability, playground, security
from .config import fhir_settings, load_config
from .core.fhirdata import Extractor
from .rules_loader import load_knowledge_base
from .state import State

__all__ = ["create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Assemble the WSGI app: config, knowledge base (validated now, not per request), routes, errors."""
    app = Flask(__name__)
    load_config(app, config)
    events.configure(app.config["LOG_LEVEL"])
    kb = load_knowledge_base(app.config["RULES_DIR"])
    fixed = app.config["FIXED_NOW"]
    state = State(
        kb=kb,
        extractor=Extractor(kb),
        clock=(lambda: fixed) if fixed is not None else (lambda: datetime.now(UTC)),
        new_uuid=lambda: str(uuid.uuid4()),
        fhir=fhir_settings(app.config),
        authenticator=security.build_authenticator(app.config),
    )
    app.extensions["magnesium_cds"] = state
    app.register_blueprint(api.bp)
    if app.config["PLAYGROUND"]:
        app.register_blueprint(playground.bp)
    observability.install(app)
    security.install(app, state)
    errors.register(app)
    return app
