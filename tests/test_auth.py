"""CDS client authentication (checklist §7, §12 rows 12-13) against secured gunicorn instances."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from service import create_app
from service.auth import Authenticator, AuthError, JwksCache, MemoryReplayStore, TrustedKey, load_issuers

from .conftest import ROOT, SAMPLES, LiveService, load_json
from .security_support import (
    EHR,
    ROTATING,
    TENANTED,
    RedisServer,
    Trust,
    claims,
    hs256_with_public_key,
    mint,
    secured_env,
    tamper,
    unsigned,
)

pytestmark = pytest.mark.api
SERVICE = "/cds-services/magnesium-leg-symptoms"

# The CDS Hooks 2.0 specification's example (§Trusting CDS Clients), ES384 with its published public key.
SPEC_TOKEN = (
    "eyJhbGciOiJFUzM4NCIsInR5cCI6IkpXVCIsImtpZCI6ImV4YW1wbGUta2lkIiwiamt1IjoiaHR0cHM6Ly9maGlyLWVoci5leGFtcGxl"
    "LmNvbS9qd2tfdXJpIn0.eyJpc3MiOiJodHRwczovL2ZoaXItZWhyLmV4YW1wbGUuY29tLyIsImF1ZCI6Imh0dHBzOi8vY2RzLmV4YW1wbG"
    "Uub3JnL2Nkcy1zZXJ2aWNlcy9zb21lLXNlcnZpY2UiLCJleHAiOjE0MjI1Njg4NjAsImlhdCI6MTMxMTI4MDk3MCwianRpIjoiZWUyMmIw"
    "MjEtZTFiNy00NjExLWJhNWItOGVlYzZhMzNhYzFlIiwidGVuYW50IjoiMmRkZDZjM2EtOGU5YS00NGM2LWEzMDUtNTIxMTFhZDMwMmEyIn"
    "0.d1WfLjGRKlcWB94l9do4cM8REXeYJLL6SGUBO8VHZhfM8mwKYP70EMxJ67War4TQblEpaQrp11wx5p7oPFm2ETYgCicS84vXWEIYTdjo"
    "oZdooCSDf2L8-i4awdoUwiEb"
)
SPEC_JWK = {
    "kty": "EC",
    "use": "sig",
    "crv": "P-384",
    "kid": "example-kid",
    "alg": "ES384",
    "x": "46SDH7Znh821wblCBglA61sNE9ZrHYKKt3qRtRTmSXyOI_FIGBLWrWa0GPUkDCEk",
    "y": "XMcRuuoGW7CXjQdy-F5i3FeBE0x9hPLdeFdSoDd3ELmx404tLX0VRRcqzAsPhXcI",
}
SPEC_ISS = "https://fhir-ehr.example.com/"
SPEC_AUD = "https://cds.example.org/cds-services/some-service"


SPEC_JKU = "https://fhir-ehr.example.com/jwk_uri"
SPEC_LIFETIME = 1422568860 - 1311280970  # the example token is valid for 3.5 years


def spec_issuers(tmp_path: Path, jku: bool = False) -> Path:
    """The spec's issuer with its key exchanged out-of-band, or (jku=True) with the token's jku allowlisted."""
    path = tmp_path / "spec-issuers.json"
    issuer = {"iss": SPEC_ISS, "jku": [SPEC_JKU]} if jku else {"iss": SPEC_ISS, "jwks": {"keys": [SPEC_JWK]}}
    path.write_text(json.dumps({"issuers": [issuer]}), encoding="utf-8")
    return path


def spec_authenticator(tmp_path: Path) -> Authenticator:
    """The spec's jku allowlisted, its JWK Set already cached (no network), and a lifetime cap that fits."""
    cache = JwksCache(3600, 60, False)
    cache._sets[SPEC_JKU] = (time.monotonic(), {"example-kid": TrustedKey(jwt.PyJWK(SPEC_JWK), "ES384")})
    issuers = load_issuers(spec_issuers(tmp_path, jku=True))
    return Authenticator(issuers, cache, MemoryReplayStore(), 30, max_lifetime=SPEC_LIFETIME)


def test_spec_example_token_verifies_with_the_clock_before_its_exp(tmp_path: Path) -> None:
    claims_ = spec_authenticator(tmp_path).authenticate(
        f"Bearer {SPEC_TOKEN}", SPEC_AUD, datetime(2015, 1, 1, tzinfo=UTC)
    )
    assert claims_["tenant"] == "2ddd6c3a-8e9a-44c6-a305-52111ad302a2" and "sub" not in claims_


def test_spec_example_token_is_expired_at_the_real_clock(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="expired"):
        spec_authenticator(tmp_path).authenticate(f"Bearer {SPEC_TOKEN}", SPEC_AUD, datetime.now(UTC))


def test_spec_example_token_is_refused_for_its_lifetime_by_default(tmp_path: Path) -> None:
    issuers = load_issuers(spec_issuers(tmp_path, jku=True))
    cache = JwksCache(3600, 60, False)
    cache._sets[SPEC_JKU] = (time.monotonic(), {"example-kid": TrustedKey(jwt.PyJWK(SPEC_JWK), "ES384")})
    authenticator = Authenticator(issuers, cache, MemoryReplayStore(), 30)  # default cap: 5 minutes
    with pytest.raises(AuthError, match="lifetime longer than allowed"):
        authenticator.authenticate(f"Bearer {SPEC_TOKEN}", SPEC_AUD, datetime(2015, 1, 28, tzinfo=UTC))


def test_spec_example_token_through_the_app_is_refused_for_its_unlisted_jku(tmp_path: Path) -> None:
    app = create_app(
        {
            "AUTH_MODE": "jwt",
            "PUBLIC_BASE_URL": "https://cds.example.org",
            "TRUSTED_ISSUERS_FILE": str(spec_issuers(tmp_path)),
            "FIXED_NOW": "2015-01-28T00:00:00Z",
        }
    )
    # The key is exchanged out-of-band, and the token names a jku nobody allowlisted: refused, never fetched.
    r = app.test_client().post("/cds-services/some-service", json={}, headers={"Authorization": f"Bearer {SPEC_TOKEN}"})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")


def call(service: LiveService, token: str | None, path: str = SERVICE, body: Any = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    if path == "/cds-services":
        return requests.get(f"{service.url}{path}", headers=headers, timeout=10)
    payload = body if body is not None else load_json(SAMPLES / "mg-low" / "patient-view.json")
    return requests.post(f"{service.url}{path}", json=payload, headers=headers, timeout=10)


def good(service: LiveService, trust: Trust, path: str = SERVICE, key: str = "rsa", **changes: Any) -> str:
    pair = getattr(trust, key)
    return mint(pair, claims(EHR, f"{service.url}{path}", time.time(), **changes))


@pytest.mark.parametrize("key", ["rsa", "ec"])
def test_valid_rs384_and_es384_tokens_are_accepted(secured: LiveService, trust: Trust, key: str) -> None:
    r = call(secured, good(secured, trust, key=key))
    assert r.status_code == 200, r.text
    assert [c["source"]["topic"]["code"] for c in r.json()["cards"]] == ["mg-low"]


def test_audience_may_be_an_array_and_sub_is_not_required(secured: LiveService, trust: Trust) -> None:
    token = mint(trust.ec, claims(EHR, [f"{secured.url}{SERVICE}", "https://other.example"], time.time()))
    assert call(secured, token).status_code == 200


@pytest.mark.parametrize("path", ["/cds-services", SERVICE, f"{SERVICE}/feedback", "/evaluate"])
def test_every_cds_endpoint_needs_a_token_for_its_own_url(secured: LiveService, trust: Trust, path: str) -> None:
    body = (
        {"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-15T10:00:00Z"}]}
        if path.endswith("feedback")
        else load_json(SAMPLES / "mg-low" / "bundle.json")
        if path == "/evaluate"
        else None
    )
    assert call(secured, None, path, body).status_code == 401
    assert call(secured, good(secured, trust, path), path, body).status_code == 200
    wrong = good(secured, trust, "/cds-services/another")
    assert call(secured, wrong, path, body).status_code == 401


@pytest.mark.parametrize("path", ["/healthz", "/rules"])
def test_public_endpoints_need_no_token(secured: LiveService, path: str) -> None:
    assert requests.get(f"{secured.url}{path}", timeout=5).status_code == 200


def attack_tokens(service: LiveService, trust: Trust) -> dict[str, str | None]:
    aud, now = f"{service.url}{SERVICE}", time.time()
    replayed = good(service, trust)
    assert call(service, replayed).status_code == 200
    return {
        "no token": None,
        "wrong aud": mint(trust.rsa, claims(EHR, "https://cds.example.org/cds-services/magnesium-leg-symptoms", now)),
        "aud of another endpoint": mint(trust.rsa, claims(EHR, f"{service.url}/cds-services", now)),
        "expired": mint(trust.rsa, claims(EHR, aud, now, exp=int(now) - 120, iat=int(now) - 420)),
        "iat in the future": mint(trust.rsa, claims(EHR, aud, now, iat=int(now) + 600, exp=int(now) + 900)),
        "not yet valid": mint(trust.rsa, claims(EHR, aud, now, nbf=int(now) + 600)),
        "unknown iss": mint(trust.rsa, claims("https://evil.example", aud, now)),
        "unknown kid": mint(trust.rsa, claims(EHR, aud, now), kid="ehr-rsa-9"),
        "missing kid": mint(trust.rsa, claims(EHR, aud, now), kid=None),
        "typ not JWT": mint(trust.rsa, claims(EHR, aud, now), typ="JOSE"),
        "non-allowlisted jku": mint(trust.rotating_old, claims(ROTATING, aud, now), jku="https://evil.example/j.json"),
        "key from an allowlisted jku, but of another issuer": mint(trust.rsa, claims(ROTATING, aud, now)),
        "out-of-band key swapped for the attacker's": mint(trust.rotating_old, claims(EHR, aud, now), kid="ehr-rsa-1"),
        "alg none": unsigned(claims(EHR, aud, now), trust.rsa.kid),
        "HS256 signed with the public key": hs256_with_public_key(trust.rsa, claims(EHR, aud, now)),
        "RS384 key used as PS384": mint(trust.rsa, claims(EHR, aud, now), alg="PS384"),
        "EC key named by an RSA kid": mint(trust.ec, claims(EHR, aud, now), kid=trust.rsa.kid),
        "bad signature": tamper(good(service, trust)),
        "replayed jti": replayed,
        "missing iss": mint(trust.rsa, claims(EHR, aud, now, iss=None)),
        "missing aud": mint(trust.rsa, claims(EHR, aud, now, aud=None)),
        "missing exp": mint(trust.rsa, claims(EHR, aud, now, exp=None)),
        "missing iat": mint(trust.rsa, claims(EHR, aud, now, iat=None)),
        "missing jti": mint(trust.rsa, claims(EHR, aud, now, jti=None)),
        "tenant not allowed": mint(trust.tenanted, claims(TENANTED, aud, now, tenant="org-2")),
        "tenant missing": mint(trust.tenanted, claims(TENANTED, aud, now)),
        "malformed": "not-a-jwt",
    }


def test_attack_matrix_is_refused_with_a_bare_401(secured: LiveService, trust: Trust) -> None:
    results = {}
    for name, token in attack_tokens(secured, trust).items():
        r = call(secured, token)
        results[name] = r.status_code
        if r.status_code == 401:
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
            diagnostics = r.json()["issue"][0]["diagnostics"]
            assert diagnostics == "Authentication required: a valid CDS client JWT (Bearer)."
    assert {name: status for name, status in results.items() if status != 401} == {}
    metrics = requests.get(secured.metrics_url, timeout=5).text  # the private listener only
    assert 'cds_auth_failures_total{reason="replayed jti"}' in metrics
    assert 'cds_auth_failures_total{reason="algorithm not allowed"}' in metrics


def test_failures_are_logged_with_a_reason_but_never_the_token(secured: LiveService, trust: Trust) -> None:
    expired = mint(
        trust.rsa,
        claims(EHR, f"{secured.url}{SERVICE}", time.time(), exp=int(time.time()) - 100, iat=int(time.time()) - 400),
    )
    call(secured, expired)
    time.sleep(0.2)
    log = secured.log.read_text(encoding="utf-8")
    assert '"authFailure":"expired"' in log
    assert expired not in log and expired.split(".")[2] not in log


def test_valid_tenant_is_accepted(secured: LiveService, trust: Trust) -> None:
    token = mint(trust.tenanted, claims(TENANTED, f"{secured.url}{SERVICE}", time.time(), tenant="org-1"))
    assert call(secured, token).status_code == 200


def test_jku_issuer_keys_are_fetched_cached_and_refreshed_on_rotation(secured: LiveService, trust: Trust) -> None:
    aud = f"{secured.url}{SERVICE}"
    before = trust.jwks.fetches
    for _ in range(3):
        assert (
            call(secured, mint(trust.rotating_old, claims(ROTATING, aud, time.time()), jku=trust.jwks.url)).status_code
            == 200
        )
    assert trust.jwks.fetches == before + (1 if before == 0 else 0)  # cached after the first fetch
    trust.jwks.keys = [trust.rotating_new.public_jwk]  # the EHR rotates its key
    token = mint(trust.rotating_new, claims(ROTATING, aud, time.time()), jku=trust.jwks.url)
    assert call(secured, token).status_code == 200  # unknown kid → one refresh
    assert trust.jwks.fetches == max(before, 1) + 1
    # A token without a jku header uses the issuer's allowlisted URL.
    assert call(secured, mint(trust.rotating_new, claims(ROTATING, aud, time.time()))).status_code == 200


def test_unknown_kid_refresh_is_rate_limited(tmp_path: Path, trust: Trust) -> None:
    cache = JwksCache(ttl=3600, min_refresh=60, allow_http=True)
    authenticator = Authenticator(load_issuers(trust.file), cache, MemoryReplayStore(), 30)
    aud, now = "https://cds.example.org/cds-services/x", datetime.now(UTC)
    trust.jwks.keys = [trust.rotating_old.public_jwk]
    authenticator.authenticate(f"Bearer {mint(trust.rotating_old, claims(ROTATING, aud, time.time()))}", aud, now)
    for _ in range(5):
        with pytest.raises(AuthError, match="unknown kid"):
            token = mint(trust.rotating_new, claims(ROTATING, aud, time.time()))
            authenticator.authenticate(f"Bearer {token}", aud, now)
    assert cache.fetches == 1  # five unknown kids within a minute: no refetch storm


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def secured_redis(trust: Trust, redis_server: RedisServer) -> Iterator[LiveService]:
    service = LiveService(secured_env(trust, CDS_REDIS_URL=redis_server.url), workers=2)
    try:
        service.wait_ready()
        yield service
    finally:
        service.stop()


def test_replayed_jti_is_refused_across_two_workers_with_redis(secured_redis: LiveService, trust: Trust) -> None:
    token = good(secured_redis, trust)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: call(secured_redis, token).status_code, range(16)))
    assert sorted(statuses) == [200] + [401] * 15
    time.sleep(0.2)
    refusals = [
        json.loads(line)
        for line in secured_redis.log.read_text(encoding="utf-8").splitlines()
        if '"authFailure":"replayed jti"' in line
    ]
    assert len(refusals) == 15


def test_replayed_jti_is_refused_by_another_replica_sharing_redis(
    secured_redis: LiveService, trust: Trust, redis_server: RedisServer
) -> None:
    other = LiveService(secured_env(trust, CDS_REDIS_URL=redis_server.url), workers=1)
    try:
        other.wait_ready()
        body = load_json(SAMPLES / "mg-low" / "bundle.json")
        # aud names the public URL; both replicas stand behind the same one in production, so mint for each.
        shared_jti = str(uuid.uuid4())
        first = mint(trust.rsa, claims(EHR, f"{secured_redis.url}/evaluate", time.time(), jti=shared_jti))
        second = mint(trust.rsa, claims(EHR, f"{other.url}/evaluate", time.time(), jti=shared_jti))
        assert call(secured_redis, first, "/evaluate", body).status_code == 200
        assert call(other, second, "/evaluate", body).status_code == 401  # same issuer and jti: a replay
    finally:
        other.stop()


def test_dev_mode_logs_a_warning(live: LiveService) -> None:
    assert "CDS_AUTH_MODE=off" in live.log.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"AUTH_MODE": "jwt"}, "CDS_PUBLIC_BASE_URL"),
        ({"AUTH_MODE": "jwt", "PUBLIC_BASE_URL": "https://cds.example.org"}, "CDS_TRUSTED_ISSUERS_FILE"),
        (
            {"AUTH_MODE": "jwt", "PUBLIC_BASE_URL": "https://x.org", "TRUSTED_ISSUERS_FILE": "/x", "CORS_ORIGINS": "*"},
            "only with CDS_AUTH_MODE=off",
        ),
        ({"AUTH_MODE": "maybe"}, "CDS_AUTH_MODE"),
    ],
)
def test_unsafe_security_configuration_stops_startup(config: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match=message):
        create_app(config)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ('{"issuers": [{"iss": "a"}]}', "give one of jwks or jwks_file, or jku"),
        ('{"issuers": [{"iss": "a", "tenants": ["t"]}]}', "give one of jwks or jwks_file, or jku"),
        ('{"issuers": [{"iss": "a", "jku": ["https://x.org/j"], "secret": "s"}]}', "secret"),
        (
            '{"issuers": [{"iss": "a", "jku": ["https://x.org/j"]}, {"iss": "a", "jku": ["https://y.org/j"]}]}',
            "duplicate iss",
        ),
        ('{"issuers": [{"iss": "a", "jwks": {"keys": [{"kty": "EC", "kid": "k", "d": "x"}]}}]}', "private key"),
        ("not json", "cannot read"),
    ],
)
def test_bad_trusted_issuers_file_stops_startup(tmp_path: Path, doc: str, message: str) -> None:
    path = tmp_path / "issuers.json"
    path.write_text(doc, encoding="utf-8")
    with pytest.raises(Exception, match=message):
        load_issuers(path)


def test_trusted_issuers_may_be_yaml(tmp_path: Path, trust: Trust) -> None:
    path = tmp_path / "issuers.yaml"
    path.write_text(
        f"issuers:\n  - iss: {EHR}\n    jku: ['https://ehr.example.org/jwks.json']\n    tenants: [a]\n",
        encoding="utf-8",
    )
    (issuer,) = load_issuers(path).values()
    assert issuer.jku == ("https://ehr.example.org/jwks.json",) and issuer.tenants == ("a",)


def test_example_trusted_issuers_file_loads_the_sandbox_key() -> None:
    issuers = load_issuers(ROOT / "deploy" / "trusted-issuers.example.yaml")
    sandbox = issuers["https://sandbox.cds-hooks.org"]
    assert set(sandbox.keys) == {"44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"}


def test_unauthorized_response_conforms_to_the_contract(secured: LiveService) -> None:
    import yaml  # noqa: PLC0415
    from openapi_core import OpenAPI  # noqa: PLC0415
    from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse  # noqa: PLC0415

    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    api = OpenAPI.from_dict({**spec, "servers": [{"url": secured.url}]})
    response = call(secured, None)
    assert response.status_code == 401
    api.validate_response(RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response))


def test_mint_tool_makes_tokens_the_service_accepts(secured: LiveService, trust: Trust) -> None:
    from jwt.algorithms import ECAlgorithm  # noqa: PLC0415

    from tools.mint_jwt import mint as mint_tool  # noqa: PLC0415

    private = json.loads(ECAlgorithm.to_jwk(trust.ec.private))
    token = mint_tool({**private, "kid": trust.ec.kid, "alg": "ES384"}, EHR, f"{secured.url}{SERVICE}")
    assert call(secured, token).status_code == 200
    assert call(secured, token).status_code == 401  # single use
