"""Bounded fuzzing (hypothesis) of the parsers that take outside input, other than SCIM:
Connect install and request JWT verification, directory files, custom-REST records.
`bench/fuzz.py` runs the same targets, SCIM included, for longer and counts the outcomes."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings

from app.connect.install_keys import InstallKeys
from bench import fuzz_targets as ft
from tests.connect.tokens import key_server

BOUNDED = settings(max_examples=120, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
KEYS = ft.Keys.generate()


@pytest.fixture(scope="module")
def install_keys():
    with key_server({KEYS.kid: KEYS.public_pem}) as server:
        yield InstallKeys(server.url)


@BOUNDED
@given(case=ft.install_cases(KEYS))
def test_install_jwt_verification_never_crashes(install_keys, case):
    ft.check_install_jwt(case, install_keys)


@BOUNDED
@given(case=ft.request_cases())
@example(case=(ft.sign({"alg": "HS256"}, '{"iss": "client-f", "exp": Infinity, "iat": 0, '
                       '"qsh": "x"}', ft.SHARED_SECRET, "HS256"), False))
def test_request_jwt_verification_never_crashes(case):
    ft.check_request_jwt(case, {"client-f": ft.SHARED_SECRET}.get)


@BOUNDED
@given(text=ft.DIRECTORY_DOCUMENTS)
@example(text=json.dumps({"users": [], "groups": [{"id": "g", "name": "G", "members": 5}]}))
@example(text=json.dumps({"users": [{"id": "u", "email": ["a@x"], "display_name": {}}]}))
@example(text='{"users": ' + "[" * 50_000 + "]" * 50_000 + "}")
def test_directory_json_gives_typed_errors_only(text):
    ft.check_directory_json(text)


@BOUNDED
@given(text=ft.CSV_TEXTS)
@example(text='id,email\nu1,"' + "a" * 200_000 + '"\n')
def test_directory_csv_gives_typed_errors_only(text):
    ft.check_directory_csv(text)


FIT_KEYS = ft.forge_keys(KEYS)


@BOUNDED
@given(token=ft.fit_cases(KEYS))
def test_forge_invocation_token_verification_never_crashes(token):
    ft.check_fit(token, FIT_KEYS)


def test_the_fit_fuzz_accepts_a_well_formed_token():
    """The target can pass: a FIT with the expected claims is accepted, so refusals mean it."""
    import time

    now = int(time.time())
    claims = {"iss": "forge/invocation-token", "aud": ft.FORGE_APP_ID, "iat": now, "nbf": now,
              "exp": now + 25, "app": {"id": ft.FORGE_APP_ID, "installationId": "i-1",
                                       "apiBaseUrl": "https://api.atlassian.com/ex/jira/c-1"}}
    token = ft.sign({"alg": "RS256", "kid": KEYS.kid}, claims, KEYS.private)
    assert ft.check_fit(token, FIT_KEYS) == "accepted"


@settings(BOUNDED, max_examples=50)
@given(case=ft.rest_cases())
def test_custom_rest_records_never_crash(case):
    ft.check_rest_records(case)


def test_a_crash_is_reported_not_swallowed():
    # the checks must turn an unexpected exception into a failure, or the tests above prove nothing
    with pytest.raises(ft.Crash, match="TypeError"):
        ft._typed(lambda: [] + None, "parse")  # type: ignore[operator]
    with pytest.raises(ft.Crash, match="verify_request raised"):
        token = ft.sign({"alg": "HS256"}, {"iss": "client-f"}, ft.SHARED_SECRET, "HS256")
        ft.check_request_jwt((token, False), lambda _iss: 1 / 0)  # type: ignore[arg-type,return-value]
