"""What bad input can reach: hypothesis strategies and one check per parser, shared by
`bench/fuzz.py` (long runs, counted) and `tests/security/test_fuzz_inputs.py` (bounded);
the SCIM targets are in `fuzz_scim`.

A check returns "accepted" or "rejected" (a typed, expected refusal) and raises `Crash` for
anything else: an unexpected exception, or a 5xx from an HTTP endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import strategies as st
from jwt import algorithms as jwt_algorithms

from app.connect.install_keys import InstallKeys
from app.connect.verify import (
    IncomingRequest,
    JWTRejected,
    lifecycle_payload,
    verify_request,
    verify_signed_install,
)
from workers.atlassian.qsh import qsh
from workers.sources import json_path
from workers.sources.base import SourceError
from workers.sources.custom_rest import CustomRestSource, Paging
from workers.sources.custom_rest_settings import CustomRestSettingsSchema
from workers.sources.directory_records import parse_csv, parse_json
from workers.sync.model import Snapshot

BASE_URL = "https://usersync.fuzz"


class Crash(AssertionError):
    """The input made the code under test fail in a way it must not (a crash or a 5xx)."""


# -- generic JSON ----------------------------------------------------------------------------

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)),
    max_leaves=25)


def keyed(keys: list[str], values: st.SearchStrategy = JSON) -> st.SearchStrategy:
    """Objects whose keys are mostly the ones the parser looks for, with any values."""
    return st.dictionaries(st.one_of(st.sampled_from(keys), st.text(max_size=8)), values,
                           max_size=len(keys) + 1)


# -- Connect JWTs ------------------------------------------------------------------------------

ODD_CLAIMS = st.sampled_from([
    # JSON that Python's json module reads but no issuer should send
    '{"iss": "client-f", "exp": Infinity, "iat": 0, "qsh": "x"}',
    '{"iss": "client-f", "exp": 1e400, "iat": -1e400, "qsh": "x"}',
    '{"iss": "client-f", "exp": NaN, "iat": NaN, "qsh": "x"}',
    '{"iss": "client-f", "exp": 99999999999999999999999, "iat": 0, "qsh": "x", "aud": ["x"]}',
    '{"iss": "client-f", "iss": "client-g", "exp": 4102444800, "iat": 0, "qsh": "context-qsh"}',
    '[]', '"client-f"', '{"iss": "client-f", "exp": 4102444800, "iat": 0, "qsh": null}',
    '{"iss": "client-f", "exp": 4102444800, "iat": 0, "qsh": {"x": 1}, "aud": {}}',
])
CLAIM_VALUES = st.one_of(JSON, st.integers(min_value=-2**63, max_value=2**63),
                         st.just(int(time.time()) + 60), st.just("context-qsh"))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(header: dict[str, Any], claims: Any, key: Any, alg: str = "RS256") -> str:
    """A compact JWS over any header and claims (PyJWT's encoder refuses odd claims, an
    attacker's does not): RS256 with an RSA key, else HMAC with the header's HS alg."""
    body = claims if isinstance(claims, str) else json.dumps(claims)  # str: raw JSON text
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(body.encode())}"
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    else:
        digest = {"HS384": hashlib.sha384, "HS512": hashlib.sha512}.get(alg, hashlib.sha256)
        signature = hmac.new(key.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


def raw_tokens() -> st.SearchStrategy[str]:
    """Token-shaped strings: random text, and three dot-joined segments of any JSON."""
    segment = st.one_of(JSON.map(lambda v: b64(json.dumps(v).encode())), st.text(max_size=20),
                        st.binary(max_size=20).map(b64))
    return st.one_of(st.text(max_size=80),
                     st.builds(lambda a, b, c: f"{a}.{b}.{c}", segment, segment, segment),
                     st.builds(lambda a, b: f"{a}.{b}", segment, segment))


@dataclass
class Keys:
    """A fresh install signing key served by kid (the role of Atlassian's key server)."""

    kid: str = "fuzz-install-key"
    private: Any = None
    public_pem: str = ""

    @classmethod
    def generate(cls) -> Keys:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        return cls(private=key, public_pem=public)


def install_cases(keys: Keys) -> st.SearchStrategy[tuple[str, bytes]]:
    """(token, body) of a lifecycle call: signed with the real key but any header and claims,
    or any token-shaped text; with a real or a fuzzed body."""
    good = {"iss": "client-f", "aud": [BASE_URL], "iat": int(time.time()),
            "exp": int(time.time()) + 120, "qsh": qsh("POST", "/installed")}
    claims = st.one_of(st.builds(lambda base, extra: {**base, **extra},
                                 st.sampled_from([good, {}]), keyed(list(good), CLAIM_VALUES)),
                       ODD_CLAIMS)
    header = keyed(["kid", "alg", "typ", "jku", "x5u"],
                   st.one_of(CLAIM_VALUES, st.sampled_from([keys.kid, "../../etc/passwd",
                                                            "a\nb", "RS256", "none"])))
    signed = st.builds(lambda c, h: sign({"alg": "RS256", "kid": keys.kid, **h}, c, keys.private),
                       claims, header)
    body = st.one_of(st.just(json.dumps({"clientKey": "client-f", "key": "k"}).encode()),
                     JSON.map(lambda v: json.dumps(v).encode()), st.binary(max_size=40))
    return st.tuples(st.one_of(signed, raw_tokens()), body)


def check_install_jwt(case: tuple[str, bytes], install_keys: InstallKeys) -> str:
    token, body = case
    req = IncomingRequest("POST", f"{BASE_URL}/installed", f"JWT {token}")
    return verdict("signed install", lambda: lifecycle_payload(verify_signed_install(
        req, keys=install_keys, base_url=BASE_URL, leeway=90)[1], body), JWTRejected)


def verdict(what: str, call: Callable[[], Any], refusal: type[Exception]) -> str:
    """A token check's outcome: accepted, or rejected by its typed refusal; any other
    exception, or a refusal that claims a 5xx, is a Crash."""
    try:
        call()
    except refusal as rejected:
        status = getattr(rejected, "status", 401)
        if status >= 500:
            raise Crash(f"{what} answered {status}: {rejected}") from rejected
        return "rejected"
    except Exception as exc:
        raise Crash(f"{what} raised {type(exc).__name__}: {exc}") from exc
    return "accepted"


SHARED_SECRET = "f" * 40


def request_cases() -> st.SearchStrategy[tuple[str, bool]]:
    """Product → app tokens: signed with the tenant's own secret (a tenant can sign anything)
    over any claims, or signed with another algorithm, or token-shaped text."""
    url = "/connect/whoami?lic=none"
    good = {"iss": "client-f", "iat": int(time.time()), "exp": int(time.time()) + 120,
            "qsh": qsh("GET", url), "sub": "acc-1"}
    claims = st.one_of(st.builds(lambda base, extra: {**base, **extra},
                                 st.sampled_from([good, {}]),
                                 keyed(list(good) + ["aud", "nbf", "context"], CLAIM_VALUES)),
                       ODD_CLAIMS)
    secret = st.sampled_from([SHARED_SECRET, "wrong-secret-of-enough-length-for-hs256!"])
    header = keyed(["alg", "typ", "kid"], st.one_of(JSON, st.sampled_from(["HS256", "JWT"])))
    signed = st.builds(lambda c, s, alg, h: sign({"alg": alg, "typ": "JWT", **h}, c, s, alg), claims,
                       secret, st.sampled_from(["HS256", "HS256", "HS256", "HS384", "HS512"]),
                       st.one_of(st.just({}), header))
    return st.tuples(st.one_of(signed, raw_tokens()), st.booleans())


def check_request_jwt(case: tuple[str, bool], secret_for: Callable[[str], str | None]) -> str:
    token, context = case
    req = IncomingRequest("GET", f"{BASE_URL}/connect/whoami?lic=none", f"JWT {token}")
    return verdict("verify_request", lambda: verify_request(
        req, secret_for=secret_for, base_url=BASE_URL, leeway=90, allow_context_qsh=context),
        JWTRejected)


FORGE_APP_ID = "ari:cloud:ecosystem::app/00000000-0000-4000-8000-00000000f022"


def forge_keys(keys: Keys) -> Any:
    """Forge's JWKS as the verifier sees it, publishing the fuzz key under its kid."""
    from app.forge.jwks import ForgeKeys

    public = serialization.load_pem_public_key(keys.public_pem.encode())
    jwk = json.loads(jwt_algorithms.RSAAlgorithm.to_jwk(public))
    return ForgeKeys("https://forge.invalid/.well-known/jwks.json",
                     fetch=lambda url: {"keys": [{**jwk, "kid": keys.kid, "alg": "RS256"}]})


def fit_cases(keys: Keys) -> st.SearchStrategy[str]:
    """Forge Invocation Tokens: signed with a published key over any header and claims (what
    a stolen or forged token could carry), or any token-shaped text."""
    now = int(time.time())
    good = {"iss": "forge/invocation-token", "aud": FORGE_APP_ID, "iat": now, "nbf": now,
            "exp": now + 25, "jti": "j-1",
            "app": {"id": FORGE_APP_ID, "installationId": "ari:cloud:ecosystem::installation/x",
                    "apiBaseUrl": "https://api.atlassian.com/ex/jira/c-1",
                    "installation": {"contexts": [{"cloudId": "c-1"}]}},
            "context": {"cloudId": "c-1", "siteUrl": "https://acme.atlassian.net"},
            "principal": "acc-1"}
    claims = st.one_of(st.builds(lambda base, extra: {**base, **extra},
                                 st.sampled_from([good, {}]),
                                 keyed(list(good) + ["clientKey"], CLAIM_VALUES)), ODD_CLAIMS)
    header = keyed(["kid", "alg", "typ", "jku"],
                   st.one_of(CLAIM_VALUES, st.sampled_from([keys.kid, "RS256", "none", "HS256"])))
    signed = st.builds(lambda c, h: sign({"alg": "RS256", "kid": keys.kid, **h}, c, keys.private),
                       claims, st.one_of(st.just({}), header))
    return st.one_of(signed, raw_tokens())


def check_fit(token: str, verifier_keys: Any) -> str:
    from app.forge.fit import FITRejected, verify

    return verdict("FIT verification",
                   lambda: verify(f"Bearer {token}", verifier_keys, FORGE_APP_ID), FITRejected)


# -- directory files ---------------------------------------------------------------------------

USER_KEYS = ["id", "email", "display_name", "active"]
GROUP_KEYS = ["id", "name", "parents", "members"]
DIRECTORY_DOCUMENTS = st.one_of(
    st.fixed_dictionaries({}, optional={
        "users": st.one_of(st.lists(st.one_of(keyed(USER_KEYS), JSON), max_size=6), JSON),
        "groups": st.one_of(st.lists(st.one_of(keyed(GROUP_KEYS), JSON), max_size=6), JSON)}
    ).map(json.dumps),
    JSON.map(json.dumps),
    st.text(max_size=200),
)
CSV_TEXTS = st.one_of(
    st.builds(lambda head, rows: head + "\n" + "\n".join(rows),
              st.sampled_from(["id,email,display_name,active,groups", "id,email", "email",
                               "id,email,groups,groups", ""]),
              st.lists(st.text(alphabet=st.sampled_from(list('ab1@,;"\n\r \x00é')), max_size=40),
                       max_size=6)),
    st.text(max_size=200))


def check_directory_json(text: str) -> str:
    return _typed(lambda: parse_json(text), "parse_json")


def check_directory_csv(text: str) -> str:
    return _typed(lambda: parse_csv(text, ";"), "parse_csv")


def _typed(parse: Callable[[], Any], name: str) -> str:
    try:
        parse()
    except SourceError:
        return "rejected"
    except Exception as exc:
        raise Crash(f"{name} raised {type(exc).__name__}: {exc}") from exc
    return "accepted"


# -- custom REST records -----------------------------------------------------------------------

JSON_PATHS = st.one_of(
    st.lists(st.one_of(st.sampled_from(["id", "email", "data", "items", "members", "ref", "uid",
                                        "emails", "value", "0"]),
                       st.integers(-3, 3).map(lambda i: f"[{i}]")), max_size=4).map(
        lambda steps: ".".join(steps).replace(".[", "[")),
    st.text(max_size=20))


@st.composite
def rest_cases(draw: Callable) -> tuple[dict[str, Any], list[Any], list[Any], Any, str]:
    """(settings, user items, group items, a page body, an items path) with any JSON shapes."""
    paths = {}
    for name in ("user_id_path", "user_email_path", "user_name_path", "user_active_path",
                 "group_id_path", "group_name_path", "group_parent_path", "group_members_path",
                 "member_id_path"):
        path = draw(JSON_PATHS)
        try:
            json_path.validate(path)
        except json_path.JsonPathError:
            path = "id" if name.endswith("id_path") else ""
        paths[name] = path
    settings = {"base_url": "https://rest.fuzz", "users_path": "/u", "groups_path": "/g",
                "user_id_path": paths["user_id_path"] or "id",
                "user_email_path": paths["user_email_path"] or "email",
                **{k: v for k, v in paths.items() if k not in ("user_id_path", "user_email_path")},
                "group_members_path": paths["group_members_path"] or "members",
                "user_active_inverted": draw(st.booleans())}
    items = st.lists(st.one_of(keyed(["id", "email", "name", "members", "active", "parent"]),
                               JSON), max_size=5)
    return settings, draw(items), draw(items), draw(JSON), draw(JSON_PATHS)


def check_rest_records(case: tuple[dict[str, Any], list[Any], list[Any], Any, str]) -> str:
    """The custom-REST record parser: JSON paths over any item shapes never crash."""
    settings, users, groups, body, items_path = case
    try:
        config = CustomRestSettingsSchema().load(settings)
    except Exception as exc:  # the strategy only builds valid settings
        raise Crash(f"settings of the strategy did not load: {exc}") from exc
    source, snapshot = CustomRestSource(settings), Snapshot()
    try:
        for item in users:
            source._add_user(config, item, snapshot)
        source._add_groups(config, Paging(None, config), groups, snapshot)  # type: ignore[arg-type]
        json_path.get(body, items_path)
        Paging(None, config).items(body, items_path, "/u")  # type: ignore[arg-type]
    except (SourceError, json_path.JsonPathError):
        return "rejected"
    except Exception as exc:
        raise Crash(f"custom REST records raised {type(exc).__name__}: {exc}") from exc
    return "accepted"
