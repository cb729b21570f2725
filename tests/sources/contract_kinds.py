"""How the contract suite stands up each source kind: its sandbox (or slapd, a file, our SCIM
server), settings that force small pages, and how to spoil its credentials or its address."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ldap3

from sandbox.idps import custom_rest, entra, google, keycloak, okta, oracle, scim
from sandbox.idps.common import SandboxHandle
from sandbox.idps.directory import Directory, Person, Team
from tests.sources import slapd
from tests.sources.conftest import TINY_BACKOFF


@dataclass
class Served:
    """One kind's IdP, serving a directory: settings that reach it, and its fault controls."""

    settings: dict[str, Any]
    handle: SandboxHandle | None = None
    touch: Callable[[Person, Team], None] = lambda person, team: None
    """Tell the IdP what changed (a person renamed and added to a team) where it logs changes."""
    retire: Callable[[Person, Team], None] = lambda person, team: None
    """Likewise for a person deactivated and a team deleted."""


@dataclass(frozen=True)
class Kind:
    """What the contract needs to know about one kind."""

    name: str
    serve: Callable[..., AbstractContextManager[Served]]
    """serve(directory, oauth=False, app=None): the IdP; with `oauth` its token-issuing
    credentials (`app` is the Flask app, for the kind that reads our own tables)."""
    small_pages: dict[str, Any] = field(default_factory=dict)
    nests: bool = True
    http: bool = True
    """Served over HTTP by a sandbox with fault injection (429, failing pages)."""
    tokens: str = ""
    """"default" when the sandbox's settings already use expiring tokens, "oauth" when
    serve(oauth=True) does, "" when the kind has no tokens."""
    wrong_credentials: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    unreachable: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None
    """Working settings moved to an IdP address `url` (a closed port)."""
    options: Callable[[Any], dict[str, Any]] = lambda sleeps: {
        "backoff": TINY_BACKOFF, "sleep": sleeps}
    incremental: dict[str, Any] = field(default_factory=dict)
    """Extra settings for the change read (Keycloak reads admin events only when asked)."""
    quiet_requests: int | None = None
    """The most requests a new run's `read_changes` makes on an unchanged directory, its token
    call included; None when the kind reads changes only together with its base."""


def _http(module: Any, oauth_option: dict[str, Any] | None = None,
          oauth_extra: str | None = None) -> Callable[..., AbstractContextManager[Served]]:
    @contextmanager
    def serve(directory: Directory, oauth: bool = False, app: Any = None) -> Iterator[Served]:
        options = (oauth_option or {}) if oauth else {}
        with module.serve(directory, **options) as handle:
            settings = dict(handle.settings)
            if oauth and oauth_extra:
                settings.update(handle.extra[oauth_extra])
            yield Served(settings, handle)
    return serve


@contextmanager
def _keycloak(directory: Directory, oauth: bool = False, app: Any = None
              ) -> Iterator[Served]:
    with keycloak.serve(directory) as handle:
        state = handle.extra["state"]

        def touch(person: Person, team: Team) -> None:
            state.record("UPDATE", "USER", f"users/{person.id}")
            state.record("CREATE", "GROUP_MEMBERSHIP", f"users/{person.id}/groups/{team.id}")

        def retire(person: Person, team: Team) -> None:
            state.record("UPDATE", "USER", f"users/{person.id}")
            state.record("DELETE", "GROUP", f"groups/{team.id}")

        yield Served(dict(handle.settings), handle, touch, retire)


def ldif(directory: Directory) -> str:
    """The directory as slapd entries: people by username, teams by name (nested by member)."""
    people = "".join(slapd.person_ldif(p.username, given=p.given_name, family=p.family_name,
                                       mail=p.email, locked=not p.active)
                     for p in directory.person_list())
    groups = "".join(slapd.group_ldif(t.name, [slapd.user_dn(directory.people[m].username)
                                               for m in t.member_ids if m in directory.people]
                                      + [slapd.group_dn(c.name)
                                         for c in directory.children(t.id)])
                     for t in directory.team_list())
    return people + groups


def ldap_settings(url: str) -> dict[str, Any]:
    return {"preset": "openldap", "url": url, "bind_dn": slapd.READER_DN,
            "bind_password": slapd.READER_PASSWORD, "base_dn": slapd.SUFFIX,
            "user_base_dn": f"ou=people,{slapd.SUFFIX}",
            "group_base_dn": f"ou=groups,{slapd.SUFFIX}", "timeout": 5}


@contextmanager
def _ldap(directory: Directory, oauth: bool = False, app: Any = None
          ) -> Iterator[Served]:
    slapd.require_slapd()
    with slapd.Slapd(ldif(directory)) as server:
        def touch(person: Person, team: Team) -> None:
            admin = ldap3.Connection(ldap3.Server(server.url), slapd.ROOT_DN, slapd.ROOT_PASSWORD,
                                     auto_bind=True)
            dn = slapd.user_dn(person.username)
            admin.modify(dn, {"displayName": [(ldap3.MODIFY_REPLACE, [person.display_name])]})
            admin.modify(slapd.group_dn(team.name), {"member": [(ldap3.MODIFY_ADD, [dn])]})
            admin.unbind()

        yield Served(ldap_settings(server.url), touch=touch)


def directory_json(directory: Directory) -> str:
    return json.dumps({
        "users": [{"id": p.id, "email": p.email, "display_name": p.display_name,
                   "active": p.active} for p in directory.person_list()],
        "groups": [{"id": t.id, "name": t.name, "parents": [t.parent_id] if t.parent_id else [],
                    "members": [m for m in t.member_ids if m in directory.people]}
                   for t in directory.team_list()]})


@contextmanager
def _directory_file(directory: Directory, oauth: bool = False, app: Any = None
                    ) -> Iterator[Served]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "directory.json"
        path.write_text(directory_json(directory))
        # the file is the IdP: a change is the file written anew
        yield Served({"path": str(path)}, touch=lambda person, team: path.write_text(
            directory_json(directory)))


@contextmanager
def _scim_push(directory: Directory, oauth: bool = False, app: Any = None) -> Iterator[Served]:
    """Our own SCIM endpoint, provisioned over HTTP as an IdP would."""
    from sandbox.live import LiveServer
    from tests.engine.sources_fixtures import ScimPusher
    from tests.scim.conftest import add_connection, issue_token

    connection_id = add_connection()
    with LiveServer(app) as server:
        app.config["BASE_URL"] = server.url
        issued = issue_token(connection_id)
        pusher = ScimPusher(server.url + issued.base_path, issued.secret)
        for person in directory.person_list():
            pusher.user(person)
        # deepest first: a parent's members name its children's SCIM ids
        for team in sorted(directory.team_list(), key=lambda t: -_depth(directory, t)):
            pusher.group(directory, team)

        def touch(person: Person, team: Team) -> None:
            body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": person.email, "displayName": person.display_name,
                    "emails": [{"value": person.email, "primary": True}], "active": True}
            pusher.send("PUT", f"/Users/{pusher.ids[person.id]}", body)
            pusher.group(directory, team)

        yield Served({"connection_id": connection_id}, touch=touch)


def _depth(directory: Directory, team: Team) -> int:
    depth = 0
    while team.parent_id in directory.teams:
        team, depth = directory.teams[team.parent_id], depth + 1
    return depth


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("okta", _http(okta, {"oauth": True}), nests=False, tokens="oauth", quiet_requests=2,
         wrong_credentials=lambda s: {**s, "api_token": "wrong"},
         unreachable=lambda url, s: {"org_url": url, "api_token": "t"}),
    Kind("keycloak", _keycloak, {"page_size": 10}, tokens="default",
         wrong_credentials=lambda s: {**s, "client_secret": "wrong"},
         unreachable=lambda url, s: {"base_url": url, "realm": "r", "client_id": "c",
                                  "client_secret": "s"},
         incremental={"use_admin_events": True}, quiet_requests=3),
    Kind("entra", _http(entra), tokens="default", quiet_requests=3,
         wrong_credentials=lambda s: {**s, "client_secret": "wrong"},
         unreachable=lambda url, s: {"tenant": "t", "client_id": "c", "client_secret": "s",
                                  "login_url": url, "graph_url": url}),
    Kind("google", _http(google), tokens="default",
         wrong_credentials=lambda s: {**s, "admin_email": "nobody@example.com"},
         unreachable=lambda url, s: {**s, "token_url": f"{url}/token", "api_url": url}),
    Kind("oracle", _http(oracle), {"page_size": 10}, nests=False, tokens="default",
         quiet_requests=5,
         wrong_credentials=lambda s: {**s, "client_secret": "wrong"},
         unreachable=lambda url, s: {"domain_url": url, "client_id": "c", "client_secret": "s"}),
    Kind("scim_pull", _http(scim, {"auth": "oauth"}), {"page_size": 10}, tokens="oauth",
         quiet_requests=4,
         wrong_credentials=lambda s: {**s, "token": "wrong"},
         unreachable=lambda url, s: {"base_url": f"{url}/scim/v2", "token": "t"}),
    Kind("custom_rest", _http(custom_rest, oauth_extra="oauth"), {"page_size": 10},
         tokens="oauth", wrong_credentials=lambda s: {**s, "api_key": "wrong"},
         unreachable=lambda url, s: {**custom_rest.style_settings(url)}),
    Kind("ldap", _ldap, {"page_size": slapd.READER_PAGE}, http=False,
         wrong_credentials=lambda s: {**s, "bind_password": "wrong"},
         unreachable=lambda url, s: ldap_settings(url.replace("http://", "ldap://")),
         options=lambda sleeps: {"backoff": TINY_BACKOFF, "sleep": sleeps}),
    Kind("directory_file", _directory_file, http=False, options=lambda sleeps: {}),
    Kind("scim_push", _scim_push, http=False, options=lambda sleeps: {}),
)}


def renamed(directory: Directory) -> tuple[Person, Team]:
    """A change every IdP can show: one person renamed and added to one more team."""
    person = directory.person_list()[1]
    team = next(t for t in directory.team_list() if person.id not in t.member_ids)
    later = time.time() + 2  # after any cursor the first read took, whatever the clock's grain
    person.family_name, person.updated = "Renamed", later
    team.member_ids.append(person.id)
    team.updated = later
    return person, team


def retired(directory: Directory, spared: Team) -> tuple[Person, Team]:
    """Deletions every IdP can show: a person deactivated, a team (no parent of any) deleted."""
    person = directory.person_list()[2]
    person.active, person.updated = False, time.time() + 2
    team = next(t for t in directory.team_list() if t is not spared and t.member_ids
                and not directory.children(t.id))
    del directory.teams[team.id]
    return person, team
