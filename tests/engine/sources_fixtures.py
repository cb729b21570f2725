"""Every IdP connector behind one shape for the engine's end-to-end tests: serve a Directory as
that IdP, create the connection the production way, and publish later changes to the IdP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import ldap3
import requests

from app import extensions
from app.connections import create as create_connection
from app.scim import tokens
from sandbox.idps import custom_rest, entra, google, keycloak, okta, oracle, scim
from sandbox.idps.directory import Directory, Person, Team
from tests.engine.harness import Stack
from tests.engine.harness import directory as directory_file_document
from tests.sources import slapd

# Removals are the point of these tests: the guard must not hold them.
LENIENT = {"policy": {"max_removal_percent": 100, "max_users_affected": 100000}}
HAS_ACCOUNT = ("alice", "bob", "carol", "dave")
"""People who already have an Atlassian account; erin is invited when she first joins a group."""


@dataclass
class Served:
    """A connection reading an IdP, and how to make the IdP show the Directory's current state."""

    connection_id: int
    publish: Callable[[], None] = lambda: None


def scenario() -> Directory:
    """Five people (dave disabled, erin in no group yet); backend nested in engineering."""
    d = Directory()
    alice, bob, carol, dave = (d.add_person(n) for n in ("alice", "bob", "carol", "dave"))
    dave.active = False
    d.add_person("erin")
    engineering = d.add_team("engineering")
    d.add_team("backend", parent_id=engineering.id).member_ids = [bob.id, dave.id]
    engineering.member_ids = [alice.id]
    d.add_team("ops").member_ids = [carol.id, alice.id, dave.id]
    return d


def person(d: Directory, username: str) -> Person:
    return next(p for p in d.people.values() if p.username == username)


def team(d: Directory, name: str) -> Team:
    return next(t for t in d.teams.values() if t.name == name)


def leave_and_join(d: Directory) -> None:
    """alice leaves ops; erin joins backend (and so, through nesting, engineering). Both groups
    are stamped as changed, as an IdP does: incremental reads by timestamp depend on it."""
    ops, backend = team(d, "ops"), team(d, "backend")
    ops.member_ids.remove(person(d, "alice").id)
    backend.member_ids.append(person(d, "erin").id)
    ops.updated = backend.updated = time.time()


def expected_groups(d: Directory, nests: bool) -> dict[str, set[str]]:
    """Group name → e-mails of its active members, a child's members counted in its parent."""
    direct = {t.id: {d.people[m].email for m in t.member_ids if d.people[m].active}
              for t in d.teams.values()}
    closure = {t.id: set(direct[t.id]) for t in d.teams.values()}
    if nests:  # one level of nesting, as the Directory models it
        for t in d.teams.values():
            if t.parent_id:
                closure[t.parent_id] |= direct[t.id]
    return {d.teams[tid].name: emails for tid, emails in closure.items()}


def connect(stack: Stack, kind: str, settings: dict[str, Any]) -> int:
    """Create the connection exactly as the admin API does: schema-checked, secrets encrypted."""
    with extensions.db.session() as session:
        conn = create_connection(session, client_key=stack.client_key, kind=kind,
                                 name=f"{kind} directory", settings=settings, mapping=LENIENT,
                                 encrypt=extensions.secrets.encrypt)
        return conn.id


def http_idp(module: ModuleType) -> Callable[[Stack, Directory], Any]:
    """A sandbox IdP that serves the live Directory: changes show without publishing."""
    @contextmanager
    def serve(stack: Stack, d: Directory) -> Iterator[Served]:
        with module.serve(d) as handle:
            yield Served(connect(stack, module.KIND, handle.settings))
    return serve


@contextmanager
def directory_file(stack: Stack, d: Directory) -> Iterator[Served]:
    """The HR export file: rewritten on publish."""
    def document() -> dict[str, Any]:
        users = [(p.id, p.email, p.active) for p in d.person_list()]
        groups = {t.name: list(t.member_ids) for t in d.team_list()}
        parents = {t.name: [d.teams[t.parent_id].name] for t in d.team_list() if t.parent_id}
        return directory_file_document(users, groups, parents)

    cid = stack.connection(document(), LENIENT)
    yield Served(cid, lambda: stack.write_directory(document()))


def ldap_members(d: Directory, t: Team) -> list[str]:
    return [slapd.user_dn(d.people[m].username) for m in t.member_ids] + [
        slapd.group_dn(c.name) for c in d.children(t.id)]


@contextmanager
def ldap(stack: Stack, d: Directory) -> Iterator[Served]:
    """A real slapd seeded from the Directory; publish rewrites each group's member values."""
    slapd.require_slapd()
    seed = "".join(slapd.person_ldif(p.username, given=p.given_name, family=p.family_name,
                                     mail=p.email, locked=not p.active) for p in d.person_list())
    seed += "".join(slapd.group_ldif(t.name, ldap_members(d, t)) for t in d.team_list())

    with slapd.Slapd(seed) as server:
        def publish() -> None:
            conn = ldap3.Connection(ldap3.Server(server.url), slapd.ROOT_DN, slapd.ROOT_PASSWORD,
                                    auto_bind=True)
            try:
                for t in d.team_list():
                    conn.modify(slapd.group_dn(t.name),
                                {"member": [(ldap3.MODIFY_REPLACE, ldap_members(d, t))]})
                    assert conn.result["result"] == 0, conn.result
            finally:
                conn.unbind()

        settings = {"preset": "openldap", "url": server.url, "bind_dn": slapd.READER_DN,
                    "bind_password": slapd.READER_PASSWORD, "base_dn": slapd.SUFFIX,
                    "user_base_dn": f"ou=people,{slapd.SUFFIX}",
                    "group_base_dn": f"ou=groups,{slapd.SUFFIX}",
                    "page_size": slapd.READER_PAGE, "timeout": 5}
        yield Served(connect(stack, "ldap", settings), publish)


class ScimPusher:
    """Plays an IdP that provisions over SCIM into our own endpoint, over HTTP."""

    def __init__(self, base_url: str, secret: str):
        self.base_url = base_url
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {secret}",
                                  "Content-Type": "application/scim+json"})
        self.ids: dict[str, str] = {}  # Directory id → SCIM id

    def send(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.request(method, self.base_url + path, json=body, timeout=10)
        assert response.status_code in (200, 201), (method, path, response.text)
        return response.json()

    def user(self, p: Person) -> None:
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": p.email,
                "name": {"givenName": p.given_name, "familyName": p.family_name},
                "emails": [{"value": p.email, "type": "work", "primary": True}],
                "active": p.active}
        self.ids[p.id] = self.send("POST", "/Users", body)["id"]

    def group(self, d: Directory, t: Team) -> None:
        members = [self.ids[m] for m in t.member_ids] + [self.ids[c.id] for c in d.children(t.id)]
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": t.name,
                "members": [{"value": m} for m in members]}
        if t.id in self.ids:
            self.send("PUT", f"/Groups/{self.ids[t.id]}", body)
        else:
            self.ids[t.id] = self.send("POST", "/Groups", body)["id"]

    def push(self, d: Directory) -> None:
        for p in d.person_list():
            if p.id not in self.ids:
                self.user(p)
        # children before parents: a parent's members refer to the child's SCIM id
        for t in sorted(d.team_list(), key=lambda t: t.parent_id is None):
            self.group(d, t)


@contextmanager
def scim_push(stack: Stack, d: Directory) -> Iterator[Served]:
    """Our own SCIM endpoint, fed by a pushing IdP over HTTP; publish pushes the changes."""
    cid = connect(stack, "scim_push", {})
    with extensions.db.session() as session:
        issued = tokens.create(session, cid)
    pusher = ScimPusher(stack.app_url + issued.base_path, issued.secret)
    pusher.push(d)
    yield Served(cid, lambda: pusher.push(d))


@dataclass(frozen=True)
class Connector:
    """How to stand one IdP up, and whether that IdP has nested groups at all."""

    serve: Callable[[Stack, Directory], Any]
    nests: bool


CONNECTORS: dict[str, Connector] = {
    "keycloak": Connector(http_idp(keycloak), nests=True),
    "okta": Connector(http_idp(okta), nests=False),
    "entra": Connector(http_idp(entra), nests=True),
    "google": Connector(http_idp(google), nests=True),
    "ldap": Connector(ldap, nests=True),
    "scim_pull": Connector(http_idp(scim), nests=True),
    "oracle": Connector(http_idp(oracle), nests=False),
    "custom_rest": Connector(http_idp(custom_rest), nests=True),
    "directory_file": Connector(directory_file, nests=True),
    "scim_push": Connector(scim_push, nests=True),
}
