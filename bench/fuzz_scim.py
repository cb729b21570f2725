"""SCIM fuzz targets: the filter and PATCH path parsers, and list filters and PATCH over HTTP
(Flask test client on a throwaway SQLite database); see `fuzz_targets` for the shape."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from app.scim.errors import ScimError
from app.scim.filters import parse_filter, parse_path
from bench.fuzz_targets import BASE_URL, JSON, Crash, keyed

# -- SCIM filters and PATCH --------------------------------------------------------------------

ATTRS = ["userName", "displayName", "active", "externalId", "id", "emails", "emails.value",
         "emails.type", "name.givenName", "name.familyName", "members", "members.value",
         "meta.lastModified", "meta.created", "groups", "title",
         "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
         "urn:ietf:params:scim:schemas:core:2.0:User:userName", "x", "a.b.c", ""]
OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "xx"]
VALUES = ['"alice"', '""', '"a\\"b"', '"\\u0000"', "true", "false", "null", "1", "-0", "1e309",
          "2026-01-01T00:00:00Z", '"2026-01-01T00:00:00Z"', "\"'\"", "[]", "{}"]


def _comparison() -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda a, o, v: f"{a} {o} {v}", st.sampled_from(ATTRS), st.sampled_from(OPERATORS),
                  st.sampled_from(VALUES)),
        st.builds(lambda a: f"{a} pr", st.sampled_from(ATTRS)))


FILTERS = st.one_of(
    st.recursive(_comparison(), lambda inner: st.one_of(
        st.builds(lambda a, b, j: f"{a} {j} {b}", inner, inner, st.sampled_from(["and", "or", "AND"])),
        st.builds(lambda a: f"not ({a})", inner),
        st.builds(lambda a: f"({a})", inner),
        st.builds(lambda attr, a: f"{attr}[{a}]", st.sampled_from(ATTRS), inner)), max_leaves=12),
    st.builds(lambda n, a: "not (" * n + a + ")" * n, st.integers(0, 400), _comparison()),
    st.builds(lambda n: "(" * n + 'userName eq "x"' + ")" * n, st.integers(0, 400)),
    st.text(max_size=120),
    st.text(alphabet='()[]"\\ .:eqandornotpr', max_size=80),
)
PATHS = st.one_of(FILTERS, st.sampled_from(ATTRS), st.builds(
    lambda a, f, s: f"{a}[{f}]{s}", st.sampled_from(ATTRS), FILTERS,
    st.sampled_from(["", ".value", ".display", ".x.y", "x"])))


def check_scim_filter(text: str) -> str:
    """The filter and PATCH path parsers: a node, or a ScimError 400."""
    for parse in (parse_filter, parse_path):
        try:
            parse(text)
        except ScimError as error:
            if error.status >= 500:
                raise Crash(f"{parse.__name__} answered {error.status}") from error
            return "rejected"
        except Exception as exc:
            raise Crash(f"{parse.__name__} raised {type(exc).__name__}: {exc}") from exc
    return "accepted"


PATCH_TARGETS = ["members", 'members[value eq "{member}"]', "displayName", "active", "userName",
                 "emails", 'emails[type eq "work"].value', 'emails[value co "@"]', "name.givenName",
                 "name", "externalId", 'members[not (value eq "x")]', "members.value", "title",
                 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"]
PATCH_VALUES = st.one_of(
    JSON, st.text(max_size=20), st.booleans(),
    st.lists(st.fixed_dictionaries({"value": st.one_of(st.just("{member}"), st.text(max_size=8),
                                                       JSON)},
                                    optional={"display": JSON, "type": JSON, "primary": JSON}),
             max_size=4),
    keyed(["value", "display", "members", "emails", "active", "userName", "displayName", "name",
           "givenName", "type", "primary"]))
PATCH_OPS = st.one_of(
    st.fixed_dictionaries({"op": st.sampled_from(["add", "remove", "replace", "Add", "Replace"])},
                          optional={"path": st.one_of(st.sampled_from(PATCH_TARGETS), PATHS),
                                    "value": PATCH_VALUES}),
    st.fixed_dictionaries({}, optional={"op": JSON, "path": JSON, "value": JSON}))
PATCH_BODIES = st.one_of(
    st.fixed_dictionaries({"schemas": st.just(["urn:ietf:params:scim:api:messages:2.0:PatchOp"]),
                           "Operations": st.lists(PATCH_OPS, min_size=1, max_size=4)}),
    st.fixed_dictionaries({"schemas": JSON, "Operations": st.one_of(st.lists(PATCH_OPS), JSON)}),
    JSON)


# -- SCIM over HTTP ----------------------------------------------------------------------------

@dataclass
class ScimEndpoint:
    """One SCIM connection of a throwaway installation, with a user and a group to PATCH."""

    client: Any
    base_path: str
    headers: dict[str, str]
    user_id: str = ""
    group_id: str = ""
    statuses: dict[int, int] = field(default_factory=dict)

    @classmethod
    def create(cls, flask_app: Any) -> ScimEndpoint:
        from app.extensions import db
        from app.models import Connection, Installation
        from app.scim import tokens

        with db.session() as session:
            inst = Installation(client_key=f"fuzz-{uuid.uuid4()}", product_type="jira",
                                base_url="https://fuzz.atlassian.net", shared_secret_encrypted="x")
            session.add(inst)
            session.flush()
            conn = Connection(installation_id=inst.id, name="fuzz", kind="scim_push", settings={},
                              mapping={}, filters={}, default_groups=[], policy={})
            session.add(conn)
            session.flush()
            issued = tokens.create(session, conn.id)
        endpoint = cls(flask_app.test_client(), issued.base_path,
                       {"Authorization": f"Bearer {issued.secret}",
                        "Content-Type": "application/scim+json"})
        user = endpoint.send("POST", "/Users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "fuzz@example.com", "emails": [{"value": "fuzz@example.com"}]})
        group = endpoint.send("POST", "/Groups", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "fuzzers",
            "members": [{"value": user.get_json()["id"]}]})
        endpoint.user_id, endpoint.group_id = user.get_json()["id"], group.get_json()["id"]
        return endpoint

    def send(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        data = None if body is None else json.dumps(body)
        response = self.client.open(self.base_path + path, method=method, data=data,
                                    headers=self.headers, **kwargs)
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        return response


def _http_outcome(response: Any, what: str) -> str:
    if response.status_code >= 500:
        raise Crash(f"{what} answered {response.status_code}: {response.get_data(as_text=True)[:200]}")
    return "accepted" if response.status_code < 300 else "rejected"


def check_scim_filter_http(text: str, endpoint: ScimEndpoint) -> str:
    resource = "/Users" if len(text) % 2 else "/Groups"
    return _http_outcome(endpoint.send("GET", resource, query_string={"filter": text}),
                         f"GET {resource}?filter")


def check_scim_patch_http(body: Any, endpoint: ScimEndpoint, on_group: bool) -> str:
    path = f"/Groups/{endpoint.group_id}" if on_group else f"/Users/{endpoint.user_id}"
    # "{member}" stands for the endpoint's real user, so member operations can succeed
    body = json.loads(json.dumps(body).replace("{member}", endpoint.user_id))
    return _http_outcome(endpoint.send("PATCH", path, body), f"PATCH {path.split('/')[1]}")


def fresh_app(folder: Path) -> Any:
    """The app on a new SQLite database in `folder` (migrated), for the HTTP targets."""
    from cryptography.fernet import Fernet

    from app import create_app, migrate

    url = f"sqlite:///{folder / 'fuzz.db'}"
    migrate.upgrade(url)
    return create_app({"DATABASE_URL": url, "REDIS_URL": "", "INSTANCE_PATH": str(folder),
                       "SECRET_KEYS": [Fernet.generate_key().decode()], "BASE_URL": BASE_URL,
                       "ALLOW_PRIVATE_URLS": True, "LOG_FORMAT": "text", "LOG_LEVEL": "CRITICAL"})
