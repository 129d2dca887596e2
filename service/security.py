"""Request-level security: client authentication, CORS, and headers on every response."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, request
from flask_cors import CORS

from .auth import Authenticator, JwksCache, MemoryReplayStore, RedisReplayStore, ReplayStore, load_issuers
from .state import State

log = logging.getLogger("magnesium_cds.security")
# Endpoints that take or return patient data and therefore need a trusted client (discovery too: S-02).
PROTECTED_ENDPOINTS = frozenset({"cds.discovery", "cds.call_service", "cds.feedback", "cds.evaluate_bundle"})


def build_authenticator(config: Any) -> Authenticator | None:
    """The JWT authenticator for CDS_AUTH_MODE=jwt; None (with a loud warning) when auth is off."""
    if config["AUTH_MODE"] == "off":
        log.warning("CDS_AUTH_MODE=off: CDS clients are NOT authenticated. Use this for local development only.")
        return None
    replay: ReplayStore = RedisReplayStore(config["REDIS_URL"]) if config["REDIS_URL"] else MemoryReplayStore()
    jwks = JwksCache(
        ttl=float(config["JWKS_CACHE_SECONDS"]),
        min_refresh=float(config["JWKS_MIN_REFRESH_SECONDS"]),
        allow_http=config["JKU_ALLOW_HTTP"],
    )
    return Authenticator(
        load_issuers(config["TRUSTED_ISSUERS_FILE"]),
        jwks,
        replay,
        float(config["JWT_LEEWAY_SECONDS"]),
        max_lifetime=float(config["JWT_MAX_LIFETIME_SECONDS"]),
    )


def install(app: Flask, state: State) -> None:
    """Authenticate protected endpoints, add CORS from the allowlist, and harden every response."""
    authenticator = state.authenticator
    base = app.config["PUBLIC_BASE_URL"]

    @app.before_request
    def _authenticate() -> None:
        if authenticator is None or request.method == "OPTIONS" or request.endpoint not in PROTECTED_ENDPOINTS:
            return
        # aud must be the exact public URL of the endpoint called (S-06), not what the proxy forwarded.
        g.client = authenticator.authenticate(
            request.headers.get("Authorization"), f"{base}{request.path}", state.clock()
        )

    @app.after_request
    def _harden(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"  # responses hold patient data
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    origins = app.config["CORS_ORIGINS"]
    if origins:
        CORS(
            app,
            origins=origins,
            methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["WWW-Authenticate"],
            max_age=600,
        )
