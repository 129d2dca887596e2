"""Authenticating CDS clients (CDS Hooks 2.0 §Trusting CDS Clients; checklist §7 S-01…S-13).

Every CDS call carries `Authorization: Bearer <JWT>` signed with the client's private key. The token must
come from an allowlisted issuer, name this exact endpoint as its audience, be current, be signed with an
asymmetric algorithm by a key of that issuer, and never have been seen before (`jti`). Any failure is a
bare 401; the reason goes to the log with the issuer, key id and jti, never the token.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import jwt
import requests
import yaml
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from .core.errors import CDSError

log = logging.getLogger("magnesium_cds.auth")
# Asymmetric algorithms only: `none` and every HMAC (HS*) are refused (S-07); ES384 and RS384 are the
# spec's recommendation, the others are their stronger/weaker siblings from RFC 7518.
ALLOWED_ALGORITHMS = frozenset({"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "jti")


class AuthError(CDSError):
    """Raised when a request is not authenticated; `reason` is for the log only, never the response."""

    def __init__(self, reason: str, **context: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.context = context


class ReplayStoreUnavailable(CDSError):
    """Raised when the shared jti store cannot be asked (→ 503): without it, replays cannot be refused."""


class ConfigurationError(CDSError):
    """Raised when the trusted-issuers file is missing or malformed; the service must not start."""


# ---- trusted issuers --------------------------------------------------------------------------------


class _JwkSetSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    keys = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1))


class _IssuerSchema(Schema):
    class Meta:
        unknown = RAISE

    iss = fields.String(required=True, validate=validate.Length(min=1))
    jwks = fields.Nested(_JwkSetSchema)
    jwks_file = fields.String()
    jku = fields.List(fields.Url(schemes={"https", "http"}, require_tld=False), validate=validate.Length(min=1))
    tenants = fields.List(fields.String(validate=validate.Length(min=1)))

    @validates_schema
    def _one_key_source(self, data: dict[str, Any], **_: Any) -> None:
        # Keys are pinned (jwks or jwks_file) or fetched from allowlisted jku URLs. With pinned keys, `jku`
        # lists the URLs the client's tokens may name (the CDS Hooks sandbox always sends one): allowed,
        # never fetched.
        pinned = [k for k in ("jwks", "jwks_file") if k in data]
        if len(pinned) > 1 or not (pinned or "jku" in data):
            raise ValidationError("give one of jwks or jwks_file, or jku", "iss")


class _IssuersFileSchema(Schema):
    class Meta:
        unknown = RAISE

    issuers = fields.List(fields.Nested(_IssuerSchema), required=True)


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A public key and the algorithm its JWK declares (None: any algorithm of its key type)."""

    jwk: jwt.PyJWK
    alg: str | None


# Key type each algorithm family needs (RFC 7518 §3.1).
_KEY_TYPE = {"ES": "EC", "RS": "RSA", "PS": "RSA"}


@dataclass(frozen=True, slots=True)
class Issuer:
    """A trusted CDS client: its keys (inline or from a file) or the JWK Set URLs it may name."""

    iss: str
    keys: Mapping[str, TrustedKey] = field(default_factory=dict)
    jku: tuple[str, ...] = ()
    tenants: tuple[str, ...] = ()


def load_issuers(path: str | Path) -> dict[str, Issuer]:
    """Read the trusted-issuers file (JSON, or YAML of the same shape); raise ConfigurationError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"CDS_TRUSTED_ISSUERS_FILE {path}: cannot read ({exc})") from exc
    try:
        doc = _IssuersFileSchema().load(raw)
    except ValidationError as exc:
        raise ConfigurationError(f"CDS_TRUSTED_ISSUERS_FILE {path}: {exc.messages}") from exc
    issuers: dict[str, Issuer] = {}
    for i, entry in enumerate(doc["issuers"]):
        if entry["iss"] in issuers:
            raise ConfigurationError(f"CDS_TRUSTED_ISSUERS_FILE {path}: issuers.{i}: duplicate iss {entry['iss']!r}")
        keys: dict[str, TrustedKey] = {}
        if "jwks" in entry or "jwks_file" in entry:
            jwks = entry.get("jwks") or _read_jwks_file(path.parent / entry["jwks_file"], path)
            keys = _keys(jwks["keys"], f"{path} issuers.{i}")
        issuers[entry["iss"]] = Issuer(entry["iss"], keys, tuple(entry.get("jku", ())), tuple(entry.get("tenants", ())))
    return issuers


def _read_jwks_file(path: Path, origin: Path) -> dict[str, Any]:
    try:
        jwks: dict[str, Any] = _JwkSetSchema().load(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        raise ConfigurationError(f"CDS_TRUSTED_ISSUERS_FILE {origin}: jwks_file {path}: {exc}") from exc
    return jwks


def _keys(jwk_list: Sequence[Mapping[str, Any]], where: str) -> dict[str, TrustedKey]:
    keys: dict[str, TrustedKey] = {}
    for jwk in jwk_list:
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            continue  # keys without kid cannot be selected by a token (S-04: kid is required)
        if "d" in jwk:
            raise ConfigurationError(f"{where}: key {kid!r} holds a private key; publish only public keys")
        try:
            alg = jwk.get("alg")
            keys[kid] = TrustedKey(jwt.PyJWK(dict(jwk)), alg if isinstance(alg, str) else None)
        except jwt.PyJWKError as exc:
            raise ConfigurationError(f"{where}: key {kid!r} is not a usable JWK ({exc})") from exc
    return keys


# ---- JWK Sets fetched from allowlisted jku URLs -----------------------------------------------------


class JwksCache:
    """JWK Sets by URL, kept for `ttl` seconds and re-fetched on an unknown kid at most every `min_refresh`."""

    def __init__(self, ttl: float, min_refresh: float, allow_http: bool, timeout: float = 2.0) -> None:
        self.ttl = ttl
        self.min_refresh = min_refresh
        self.allow_http = allow_http
        self.timeout = timeout
        self._sets: dict[str, tuple[float, dict[str, TrustedKey]]] = {}
        self._lock = threading.Lock()
        self.fetches = 0

    def key(self, url: str, kid: str) -> TrustedKey | None:
        now = time.monotonic()
        with self._lock:
            cached = self._sets.get(url)
        if cached is None or now - cached[0] > self.ttl:
            cached = self._fetch(url)
        key = cached[1].get(kid)
        if key is None and time.monotonic() - cached[0] > self.min_refresh:
            cached = self._fetch(url)  # the client may have rotated its keys
            key = cached[1].get(kid)
        return key

    def _fetch(self, url: str) -> tuple[float, dict[str, TrustedKey]]:
        if not url.startswith("https://") and not (self.allow_http and url.startswith("http://")):
            raise AuthError("jku must use https", jku=url)
        self.fetches += 1
        try:
            with _wall_clock(self.timeout):  # a JWK Set server dribbling bytes cannot hold the request
                response = requests.get(url, timeout=self.timeout, headers={"Accept": "application/json"})
                response.raise_for_status()
                keys = _keys(_JwkSetSchema().load(response.json())["keys"], f"jku {url}")
        except (requests.RequestException, ValueError, ValidationError, ConfigurationError) as exc:
            raise AuthError(f"JWK Set could not be fetched ({type(exc).__name__})", jku=url) from None
        entry = (time.monotonic(), keys)
        with self._lock:
            self._sets[url] = entry
        return entry


def _wall_clock(seconds: float) -> Any:
    """A deadline for all I/O inside the block under gevent workers (requests' timeouts are per read)."""
    from gevent import monkey  # noqa: PLC0415

    if not monkey.is_module_patched("socket"):
        return contextlib.nullcontext()
    import gevent  # noqa: PLC0415

    return gevent.Timeout(seconds, requests.Timeout(f"no complete answer within {seconds:g} s"))


# ---- replay protection ------------------------------------------------------------------------------


class ReplayStore(Protocol):
    def first_use(self, key: str, ttl: float) -> bool:
        """Record the key for ttl seconds; False if it is already recorded."""


class MemoryReplayStore:
    """jti store for one process (one gunicorn worker); use Redis when there are several.

    O(1) amortised: a dict for lookups and a queue in insertion order; each call drops the expired keys at
    the head of the queue. Token lifetimes are capped (CDS_JWT_MAX_LIFETIME_SECONDS), so no key outlives
    the cap by more than the leeway and the queue never holds more than that window of jtis.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._seen: dict[str, float] = {}
        self._order: deque[tuple[float, str]] = deque()
        self._lock = threading.Lock()
        self._clock = clock

    def __len__(self) -> int:
        return len(self._seen)

    def first_use(self, key: str, ttl: float) -> bool:
        now = self._clock()
        with self._lock:
            order, seen = self._order, self._seen
            while order and order[0][0] <= now:
                expiry, old = order.popleft()
                if seen.get(old) == expiry:
                    del seen[old]
            if seen.get(key, 0) > now:
                return False
            seen[key] = now + ttl
            order.append((now + ttl, key))
            return True


class RedisReplayStore:
    """jti store shared by every worker and replica: SET key NX EX (atomic).

    Fails fast and closed: short socket timeouts and no client-side retries, so an unreachable or hung
    Redis turns into ReplayStoreUnavailable (→ 503) well within a second; after a failure the store is
    not asked again for `cooldown` seconds (requests get 503 at once), then it is tried again, so the
    service recovers by itself when Redis is back. Failures are logged at most once per `log_every` s.
    """

    def __init__(
        self, url: str, timeout: float = 0.3, cooldown: float = 0.5, log_every: float = 10.0, name: str = "Redis"
    ) -> None:
        import redis  # noqa: PLC0415 (only deployments that configure Redis need the client loaded)
        from redis.backoff import NoBackoff  # noqa: PLC0415
        from redis.retry import Retry  # noqa: PLC0415

        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        self.cooldown = cooldown
        self.log_every = log_every
        self.name = name
        self._down_until = 0.0
        self._last_log = -math.inf
        self._suppressed = 0
        self._lock = threading.Lock()

    def first_use(self, key: str, ttl: float) -> bool:
        if time.monotonic() < self._down_until:
            self._failed(None)
        try:
            return bool(self._redis.set(f"magnesium-cds:jti:{key}", 1, nx=True, ex=max(1, math.ceil(ttl) + 1)))
        except self._errors as exc:
            self._down_until = time.monotonic() + self.cooldown
            self._failed(exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def _failed(self, exc: BaseException | None) -> None:
        now = time.monotonic()
        with self._lock:
            if exc is not None and now - self._last_log >= self.log_every:
                log.error(
                    "replay store (%s) unavailable: %s; CDS calls answer 503 until it is back%s",
                    self.name,
                    type(exc).__name__,
                    f" ({self._suppressed} more failures since the last report)" if self._suppressed else "",
                    extra={"fields": {"replayStore": "unavailable", "error": type(exc).__name__}},
                )
                self._last_log, self._suppressed = now, 0
            else:
                self._suppressed += 1
        raise ReplayStoreUnavailable(f"the replay store ({self.name}) is unavailable")

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except Exception:  # readiness: any failure means not ready
            return False


# ---- the check --------------------------------------------------------------------------------------


class Authenticator:
    """Validates CDS client JWTs against the trusted issuers."""

    def __init__(
        self,
        issuers: Mapping[str, Issuer],
        jwks: JwksCache,
        replay: ReplayStore,
        leeway: float,
        max_lifetime: float = 300.0,
    ) -> None:
        self.issuers = issuers
        self.jwks = jwks
        self.replay = replay
        self.leeway = leeway
        self.max_lifetime = max_lifetime

    def authenticate(self, authorization: str | None, audience: str, now: datetime) -> dict[str, Any]:
        """The verified claims of the request's bearer JWT for `audience` at `now`; AuthError otherwise."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("no bearer token")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALLOWED_ALGORITHMS:
            raise AuthError("algorithm not allowed", alg=alg)
        if header.get("typ") != "JWT":
            raise AuthError("typ is not JWT", alg=alg)
        if not isinstance(kid, str) or not kid:
            raise AuthError("no kid")
        iss = unverified.get("iss")
        issuer = self.issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise AuthError("unknown issuer", iss=iss)
        key = self._key(issuer, header, kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=audience,
                issuer=issuer.iss,
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"missing claim {exc.claim}", iss=iss, kid=kid) from None
        except jwt.InvalidAudienceError:
            raise AuthError("wrong audience", iss=iss, kid=kid, aud=unverified.get("aud")) from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token ({type(exc).__name__})", iss=iss, kid=kid) from None
        self._check_times(claims, now, issuer.iss)
        if issuer.tenants and claims.get("tenant") not in issuer.tenants:
            raise AuthError("tenant not allowed", iss=iss, tenant=claims.get("tenant"))
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise AuthError("jti is not a string", iss=iss)
        # Keep the jti for as long as the token could still be accepted.
        if not self.replay.first_use(f"{iss}|{jti}", float(claims["exp"]) + self.leeway - now.timestamp()):
            raise AuthError("replayed jti", iss=iss, jti=jti)
        return claims

    def _key(self, issuer: Issuer, header: Mapping[str, Any], kid: str) -> Any:
        jku = header.get("jku")
        if jku is not None and jku not in issuer.jku:
            # Refused, never fetched: a token must not choose where its keys come from (S-09) — also when
            # the issuer's keys were exchanged out-of-band (then no jku is allowlisted at all).
            raise AuthError("jku not allowlisted", iss=issuer.iss, jku=jku)
        if issuer.keys:
            found = issuer.keys.get(kid)
        else:
            urls = [jku] if jku else list(issuer.jku)
            found = next((k for url in urls if (k := self.jwks.key(url, kid)) is not None), None)
        if found is None:
            raise AuthError("unknown kid", iss=issuer.iss, kid=kid)
        alg = str(header.get("alg"))
        if found.jwk.key_type != _KEY_TYPE[alg[:2]] or found.alg not in (None, alg):
            raise AuthError("algorithm does not match the key", iss=issuer.iss, kid=kid, alg=alg)
        return found.jwk.key

    def _check_times(self, claims: Mapping[str, Any], now: datetime, iss: str) -> None:
        moment = now.timestamp()
        for name in ("exp", "iat"):
            value = claims.get(name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
                raise AuthError(f"{name} is not a number", iss=iss)
        nbf = claims.get("nbf")
        if nbf is not None and (not isinstance(nbf, int | float) or isinstance(nbf, bool) or not math.isfinite(nbf)):
            raise AuthError("nbf is not a number", iss=iss)
        cap = self.max_lifetime + self.leeway
        if claims["exp"] - claims["iat"] > cap or claims["exp"] - moment > cap:
            raise AuthError("lifetime longer than allowed", iss=iss, jti=claims.get("jti"))
        if claims["exp"] <= moment - self.leeway:
            raise AuthError("expired", iss=iss, jti=claims.get("jti"))
        if claims["iat"] > moment + self.leeway:
            raise AuthError("issued in the future", iss=iss, jti=claims.get("jti"))
        if nbf is not None and nbf > moment + self.leeway:
            raise AuthError("not yet valid", iss=iss, jti=claims.get("jti"))
