"""Configuration: defaults, then CDS_* environment variables (read once, in create_app), then overrides."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from .core.errors import CDSError
from .fhirclient import FhirSettings

# Every setting, its default and what it does (documented in the README's configuration table).
DEFAULTS: dict[str, Any] = {
    "RULES_DIR": None,  # folder with the knowledge base; default: rules/ beside the package
    "MAX_BODY_BYTES": 10 * 1024 * 1024,  # larger request bodies get 413
    "FIXED_NOW": None,  # ISO 8601 instant to evaluate at, for reproducible tests and demos only
    "LOG_LEVEL": "INFO",
    "FHIR_ALLOW_HTTP": False,  # allow http:// fhirServer (local development and tests only)
    "FHIR_TIMEOUT_SECONDS": 2.0,  # total time for all FHIR-server calls of one hook call
    "FHIR_CONNECT_TIMEOUT_SECONDS": 0.5,
    "FHIR_MAX_PAGES": 5,  # searchset pages followed per prefetch key
    "FHIR_MAX_RESPONSE_BYTES": 20 * 1024 * 1024,
    "FHIR_MAX_TOTAL_BYTES": 10 * 1024 * 1024,  # all FHIR answers of one hook call (keys and pages) together
    "AUTH_MODE": "jwt",  # jwt: every CDS call needs a client JWT; off: local development only
    "PUBLIC_BASE_URL": None,  # the service's public URL; JWT aud must be {this}{path}
    "TRUSTED_ISSUERS_FILE": None,  # JSON/YAML allowlist of CDS clients and their keys
    "JWT_LEEWAY_SECONDS": 30,  # clock skew tolerated on exp / iat / nbf
    "JWT_MAX_LIFETIME_SECONDS": 300,  # exp - iat and exp - now may not exceed this (+ leeway)
    "JWKS_CACHE_SECONDS": 3600,  # how long a JWK Set fetched from a jku URL is used
    "JWKS_MIN_REFRESH_SECONDS": 60,  # earliest re-fetch of a JWK Set on an unknown kid
    "JKU_ALLOW_HTTP": False,  # allow http:// jku URLs (tests only)
    "REDIS_URL": None,  # shared jti store for several workers/replicas (default: per process)
    "CORS_ORIGINS": [],  # browser origins allowed to call the service ("*" only with AUTH_MODE=off)
    "PLAYGROUND": None,  # serve GET /playground; default: on with AUTH_MODE=off, off with jwt
}


class ConfigError(CDSError):
    """Raised when a CDS_* setting is unknown or has a value of the wrong kind."""


def load_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    """Layer defaults, CDS_* environment variables and `overrides` onto app.config, then check them."""
    app.config.from_mapping(DEFAULTS)
    before = set(app.config)
    app.config.from_prefixed_env("CDS")  # CDS_MAX_BODY_BYTES=1000 → MAX_BODY_BYTES = 1000 (JSON-parsed)
    unknown = sorted(k for k in set(app.config) - before if k not in DEFAULTS)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join('CDS_' + k for k in unknown)}")
    if overrides:
        app.config.from_mapping(overrides)
    limit = app.config["MAX_BODY_BYTES"]
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        raise ConfigError(f"CDS_MAX_BODY_BYTES must be a positive integer, got {limit!r}")
    app.config["MAX_CONTENT_LENGTH"] = limit
    _check(app, "FHIR_ALLOW_HTTP", bool, lambda v: True)
    _check(app, "FHIR_TIMEOUT_SECONDS", (int, float), lambda v: 0 < v <= 30)
    _check(app, "FHIR_CONNECT_TIMEOUT_SECONDS", (int, float), lambda v: 0 < v <= 30)
    _check(app, "FHIR_MAX_PAGES", int, lambda v: v >= 1)
    _check(app, "FHIR_MAX_RESPONSE_BYTES", int, lambda v: v > 0)
    _check(app, "FHIR_MAX_TOTAL_BYTES", int, lambda v: v > 0)
    fixed = app.config["FIXED_NOW"]
    if fixed is not None and not isinstance(fixed, datetime):
        app.config["FIXED_NOW"] = parse_instant(str(fixed))
    _check_security(app)
    playground = app.config["PLAYGROUND"]
    if playground is None:
        app.config["PLAYGROUND"] = app.config["AUTH_MODE"] == "off"
    elif not isinstance(playground, bool):
        raise ConfigError(f"CDS_PLAYGROUND must be true or false, got {playground!r}")


def _check_security(app: Flask) -> None:
    config = app.config
    if config["AUTH_MODE"] not in ("jwt", "off"):
        raise ConfigError(f"CDS_AUTH_MODE must be jwt or off, got {config['AUTH_MODE']!r}")
    for key in ("JWT_LEEWAY_SECONDS", "JWKS_CACHE_SECONDS", "JWKS_MIN_REFRESH_SECONDS"):
        _check(app, key, (int, float), lambda v: 0 <= v <= 86400)
    _check(app, "JWT_MAX_LIFETIME_SECONDS", (int, float), lambda v: 0 < v <= 86400)
    _check(app, "JKU_ALLOW_HTTP", bool, lambda v: True)
    origins = config["CORS_ORIGINS"]
    if isinstance(origins, str):
        origins = [o.strip() for o in origins.split(",") if o.strip()]
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        raise ConfigError("CDS_CORS_ORIGINS must be a comma-separated list of origins")
    config["CORS_ORIGINS"] = origins
    if config["AUTH_MODE"] == "jwt":
        if "*" in origins:
            raise ConfigError("CDS_CORS_ORIGINS='*' is allowed only with CDS_AUTH_MODE=off (development)")
        base = config["PUBLIC_BASE_URL"]
        if not isinstance(base, str) or not base.startswith(("https://", "http://")):
            raise ConfigError("CDS_PUBLIC_BASE_URL (e.g. https://cds.example.org) is required with CDS_AUTH_MODE=jwt")
        config["PUBLIC_BASE_URL"] = base.rstrip("/")
        if not config["TRUSTED_ISSUERS_FILE"]:
            raise ConfigError("CDS_TRUSTED_ISSUERS_FILE is required with CDS_AUTH_MODE=jwt")


def _check(app: Flask, key: str, kind: type | tuple[type, ...], ok: Callable[[Any], bool]) -> None:
    value = app.config[key]
    # bool is an int in Python: a number setting must not accept true/false.
    ok_type = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    if not ok_type or not ok(value):
        raise ConfigError(f"CDS_{key} has an invalid value {value!r}")


def fhir_settings(config: Mapping[str, Any]) -> FhirSettings:
    return FhirSettings(
        allow_http=config["FHIR_ALLOW_HTTP"],
        total_timeout=float(config["FHIR_TIMEOUT_SECONDS"]),
        connect_timeout=float(config["FHIR_CONNECT_TIMEOUT_SECONDS"]),
        max_pages=config["FHIR_MAX_PAGES"],
        max_response_bytes=config["FHIR_MAX_RESPONSE_BYTES"],
        max_total_bytes=config["FHIR_MAX_TOTAL_BYTES"],
    )


def parse_instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"CDS_FIXED_NOW must be an ISO 8601 instant, got {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
