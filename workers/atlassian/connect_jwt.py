"""Signs app → product calls with a Connect JWT (iss = app key, qsh of that very request)."""

from __future__ import annotations

import time

import jwt
from requests import PreparedRequest
from requests.auth import AuthBase

from workers.atlassian.qsh import qsh, relative_url

TOKEN_LIFETIME = 180  # Atlassian's libraries use about three minutes


class ConnectJWTAuth(AuthBase):
    """requests auth for one installation: `session.auth = ConnectJWTAuth(key, secret, base)`.

    The token is made per request because the qsh covers that request's method, path and
    query; it works with atlassian-python-api, which accepts a prepared `requests.Session`.
    """

    def __init__(self, app_key: str, shared_secret: str, product_base_url: str,
                 lifetime: int = TOKEN_LIFETIME):
        self.app_key = app_key
        self.shared_secret = shared_secret
        self.product_base_url = product_base_url
        self.lifetime = lifetime

    def token(self, method: str, url: str) -> str:
        now = int(time.time())
        claims = {"iss": self.app_key, "iat": now, "exp": now + self.lifetime,
                  "qsh": qsh(method, relative_url(url, self.product_base_url))}
        return jwt.encode(claims, self.shared_secret, algorithm="HS256")

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request.headers["Authorization"] = f"JWT {self.token(request.method or 'GET', request.url or '')}"
        return request
