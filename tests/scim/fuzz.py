"""Shared pieces of the SCIM fuzz tests: a Flask-test-client SCIM caller and the Error-shape check."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st

from tests.scim.conftest import add_connection, issue_token

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
# RFC 7644 §3.12's keywords: an error naming any other is not an RFC error.
SCIM_TYPES = {"invalidFilter", "tooMany", "uniqueness", "mutability", "invalidSyntax",
              "invalidPath", "noTarget", "invalidValue", "invalidVers", "sensitive"}
# Bounded runs: the whole fuzz suite stays well under 20 s on a shared 2-core machine.
FAST: settings = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

# Text that has broken parsers and databases before: NUL, lone surrogates, combining marks,
# quotes and backslashes, brackets, Unicode spaces.
NASTY = st.sampled_from(["\x00", "\ud800", "\udfff", "e\u0301", "\"", "\\", "\\u0000", "[", "]",
                         "(", ")", "\u00a0", "\u2028", "ß", "\u212a", "%", "_", "*", "'", ""])
TEXT = st.one_of(st.text(max_size=20), NASTY,
                 st.lists(NASTY, max_size=4).map("".join))


class Scim:
    """One connection's SCIM endpoint through the Flask test client."""

    def __init__(self, flask_client: Any):
        self.connection_id = add_connection()
        issued = issue_token(self.connection_id)
        self.flask = flask_client
        self.base = issued.base_path
        self.headers = {"Authorization": f"Bearer {issued.secret}"}

    def __call__(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.flask.open(self.base + path, method=method, json=body, headers=self.headers,
                               content_type="application/scim+json", **kwargs)


def assert_rfc_answer(response: Any, allowed: set[int]) -> None:
    """No 5xx; every error is an RFC 7644 Error resource whose status matches the HTTP one."""
    status = response.status_code
    body = response.get_json(silent=True) or {}
    event(f"{status} {body.get('scimType', '')}".strip())  # the spread shows in --hypothesis-show-statistics
    assert status < 500, response.get_data(as_text=True)
    assert status in allowed, (status, response.get_data(as_text=True))
    if status >= 400:
        assert body["schemas"] == [ERROR]
        assert body["status"] == str(status)
        assert isinstance(body["detail"], str) and body["detail"]
        assert body.get("scimType") is None or body["scimType"] in SCIM_TYPES
