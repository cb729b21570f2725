"""The RSA key pair the sandbox signs Connect lifecycle requests with, served by kid."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


class InstallKeys:
    """One key pair per sandbox (never written to disk); public half served by kid.

    The pair is made on first use: generating RSA keys takes up to half a second and most
    test sites never install an app.
    """

    def __init__(self) -> None:
        self.kid = str(uuid.uuid4())
        self._lock = threading.Lock()
        self._private: rsa.RSAPrivateKey | None = None

    def _key(self) -> rsa.RSAPrivateKey:
        with self._lock:
            if self._private is None:
                self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._private

    def public_pem(self, kid: str) -> str | None:
        if kid != self.kid:
            return None
        return self._key().public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, claims: dict[str, Any], lifetime: int = 180) -> str:
        now = int(time.time())
        # a unique jti: two installs within one second must not carry the same token
        return jwt.encode({"iat": now, "exp": now + lifetime, "jti": uuid.uuid4().hex, **claims},
                          self._key(),
                          algorithm="RS256", headers={"kid": self.kid})
