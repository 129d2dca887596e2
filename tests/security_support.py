"""Keys, tokens and servers for the authentication tests: everything real, on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from .conftest import free_port

EHR = "https://ehr.example.org"
ROTATING = "https://rotating-ehr.example.org"
TENANTED = "https://tenanted-ehr.example.org"


@dataclass
class KeyPair:
    kid: str
    alg: str
    private: Any
    public_jwk: dict[str, Any]

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def rsa_key(kid: str, alg: str = "RS384") -> KeyPair:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    return KeyPair(kid, alg, private, {**jwk, "kid": kid, "alg": alg, "use": "sig"})


def ec_key(kid: str, alg: str = "ES384") -> KeyPair:
    curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[alg]
    private = ec.generate_private_key(curve)
    jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    return KeyPair(kid, alg, private, {**jwk, "kid": kid, "alg": alg, "use": "sig"})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(issuer: str, audience: Any, now: float, **changes: Any) -> dict[str, Any]:
    """A valid claim set; pass a claim as None to leave it out."""
    out = {"iss": issuer, "aud": audience, "exp": int(now) + 300, "iat": int(now), "jti": str(uuid.uuid4())}
    out.update(changes)
    return {k: v for k, v in out.items() if v is not None}


def mint(key: KeyPair, payload: dict[str, Any], **header: Any) -> str:
    alg = header.pop("alg", None) or key.alg
    headers = {k: v for k, v in {"kid": key.kid, "typ": "JWT", **header}.items() if v is not None}
    return jwt.encode(payload, key.private, algorithm=alg, headers=headers)


def unsigned(payload: dict[str, Any], kid: str) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": kid}
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}."


def hs256_with_public_key(key: KeyPair, payload: dict[str, Any]) -> str:
    """The classic key-confusion attack: HMAC-sign with the server's public key as the secret."""
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = hmac.new(key.public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def tamper(token: str) -> str:
    head, body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["jti"] = str(uuid.uuid4())
    return f"{head}.{b64(json.dumps(payload).encode())}.{sig}"


class JwksServer:
    """A JWK Set endpoint on loopback that counts fetches; its keys can be rotated."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.keys = keys
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.fetches += 1
                body = json.dumps({"keys": server.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/.well-known/jwks.json"
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Trust:
    """Key pairs and the trusted-issuers file naming them."""

    rsa: KeyPair
    ec: KeyPair
    rotating_old: KeyPair
    rotating_new: KeyPair
    tenanted: KeyPair
    file: Path
    jwks: JwksServer
    extra: dict[str, Any] = field(default_factory=dict)


def write_trust(folder: Path) -> Trust:
    rsa_pair, ec_pair = rsa_key("ehr-rsa-1"), ec_key("ehr-ec-1")
    old, new, tenanted = ec_key("rot-1"), ec_key("rot-2"), rsa_key("ten-1")
    jwks = JwksServer([old.public_jwk])
    (folder / "tenanted-jwks.json").write_text(json.dumps({"keys": [tenanted.public_jwk]}), encoding="utf-8")
    issuers = {
        "issuers": [
            {"iss": EHR, "jwks": {"keys": [rsa_pair.public_jwk, ec_pair.public_jwk]}},
            {"iss": ROTATING, "jku": [jwks.url]},
            {"iss": TENANTED, "jwks_file": "tenanted-jwks.json", "tenants": ["org-1"]},
        ]
    }
    path = folder / "trusted-issuers.json"
    path.write_text(json.dumps(issuers), encoding="utf-8")
    return Trust(rsa_pair, ec_pair, old, new, tenanted, path, jwks)


class RedisServer:
    """redis-server (Debian package) on a free loopback port, without persistence."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server); .ci/run installs it")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis  # noqa: PLC0415

        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def secured_env(trust: Trust, **extra: str) -> dict[str, str]:
    """The environment of a service that authenticates CDS clients with the issuers of `trust`."""
    return {
        "CDS_AUTH_MODE": "jwt",
        "CDS_PUBLIC_BASE_URL": "{url}",
        "CDS_TRUSTED_ISSUERS_FILE": str(trust.file),
        "CDS_JKU_ALLOW_HTTP": "true",
        "CDS_JWKS_MIN_REFRESH_SECONDS": "0",
        "CDS_CORS_ORIGINS": "https://sandbox.cds-hooks.org",
        "CDS_FHIR_ALLOW_HTTP": "true",
        **extra,
    }
