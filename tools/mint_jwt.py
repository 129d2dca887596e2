"""Mint a CDS client JWT for trying the secured service by hand (curl, Postman). Tokens are single use.

    .venv/bin/python tools/mint_jwt.py --key private-jwk.json --iss https://ehr.example.org \\
        --aud https://cds.example.org/cds-services/magnesium-leg-symptoms

The private key is a JWK (JSON) whose public half is registered for `iss` in the trusted-issuers file.
Prints the token; put it in Postman's `clientJwt` or `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from pathlib import Path

import jwt


def mint(private_jwk: dict[str, object], iss: str, aud: str, lifetime: int = 300, tenant: str | None = None) -> str:
    key = jwt.PyJWK(private_jwk)
    alg = str(private_jwk.get("alg") or key.algorithm_name)
    now = int(time.time())
    claims: dict[str, object] = {"iss": iss, "aud": aud, "iat": now, "exp": now + lifetime, "jti": str(uuid.uuid4())}
    if tenant:
        claims["tenant"] = tenant
    headers = {"kid": str(private_jwk["kid"]), "typ": "JWT"}
    return jwt.encode(claims, key.key, algorithm=alg, headers=headers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", type=Path, required=True, help="private JWK (JSON) with kid and alg")
    parser.add_argument("--iss", required=True)
    parser.add_argument("--aud", required=True, help="the exact URL of the endpoint to call")
    parser.add_argument("--lifetime", type=int, default=300)
    parser.add_argument("--tenant")
    args = parser.parse_args()
    print(mint(json.loads(args.key.read_text(encoding="utf-8")), args.iss, args.aud, args.lifetime, args.tenant))


if __name__ == "__main__":
    main()
