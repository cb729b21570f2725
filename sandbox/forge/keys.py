"""The invoker's own RSA signing key and the JWKS that publishes it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


class SigningKey:
    """One RS256 key with a `kid`; `sign(claims)` makes a JWT, `jwks()` publishes the public half."""

    def __init__(self, kid: str | None = None) -> None:
        self.kid = kid or f"sandbox-forge-{uuid.uuid4().hex[:12]}"
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        return jwt.encode(claims, self._private, algorithm="RS256",
                          headers={"kid": self.kid, **(headers or {})})

    def jwk(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self._private.public_key()))
        return {**public, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk()]}
