"""The SCIM-pushed directory as a source: reads our own SCIM tables of one connection into a Snapshot."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from app.extensions import db
from app.models.scim import ScimGroup, ScimMember, ScimToken, ScimUser, ScimUserEmail
from workers.sources.base import Source, SourceConfigError
from workers.sources.settings import field_meta
from workers.sync.model import Group, GroupSlice, Snapshot, User, UserSlice


class ScimPushSettings(Schema):
    """Nothing to type: the IdP pushes to the endpoint; the engine supplies the connection id."""

    # Optional so a scim connection is created with no settings at all; the engine always
    # fills it in. `internal` tells forms not to show it.
    connection_id = fields.Integer(load_default=None, metadata={**field_meta(
        "Connection", "Set by the app, not by the admin."), "internal": True})


def primary_email(emails: list[tuple[str, bool]], user_name: str) -> str:
    """The primary e-mail, else the first one, else a userName that looks like an address."""
    for value, primary in emails:
        if primary:
            return value
    if emails:
        return emails[0][0]
    return user_name if "@" in user_name else ""


def display_name(document: dict[str, Any], user_name: str) -> str:
    name = document.get("name") or {}
    given_family = " ".join(p for p in (name.get("givenName"), name.get("familyName")) if p)
    return document.get("displayName") or name.get("formatted") or given_family or user_name


class ScimPushSource(Source):
    """Users by SCIM id, their active flag, groups, direct members and nested groups."""

    kind = "scim_push"
    label = "SCIM push (Entra ID, Okta, OneLogin…)"
    settings_schema = ScimPushSettings
    supports_targeted = True

    def __init__(self, settings: Mapping[str, Any], *, allow_private: bool = False,
                 session_factory: Callable[[], Any] | None = None):
        super().__init__(settings, allow_private=allow_private)
        if self.settings.connection_id is None:
            raise SourceConfigError("the scim_push source needs the id of its connection")
        self.connection_id = int(self.settings.connection_id)
        self._session = session_factory or db.session

    def check(self) -> str:
        with self._session() as session:
            live = session.scalar(select(func.count()).select_from(ScimToken).where(
                ScimToken.connection_id == self.connection_id, ScimToken.revoked_at.is_(None)))
            users = session.scalar(select(func.count()).select_from(ScimUser).where(
                ScimUser.connection_id == self.connection_id))
        if not live:
            raise SourceConfigError(
                "No SCIM token yet: create one and paste it with the SCIM URL into your IdP.")
        return f"Ready: {users} user(s) pushed so far."

    def fetch(self) -> Snapshot:
        snapshot = Snapshot()
        with self._session() as session:
            user_ids = self._users(session, snapshot)
            group_ids = self._groups(session, snapshot)
            self._members(session, snapshot, user_ids, group_ids)
        return snapshot

    # -- one user, one group: a few rows of our own tables ----------------------------

    def fetch_user(self, user_id: str) -> UserSlice:
        with self._session() as session:
            found = self._user_rows(session, ScimUser.scim_id == user_id)
            if not found:
                return UserSlice(user_id, None)
            (pk, user), = found.items()
            group_pks = list(session.scalars(select(ScimMember.group_pk).where(
                ScimMember.user_pk == pk)))
            return UserSlice(user_id, user, self._groups_by_pk(session, group_pks))

    def fetch_group(self, group_id: str) -> GroupSlice:
        with self._session() as session:
            pk = session.scalar(select(ScimGroup.pk).where(
                ScimGroup.connection_id == self.connection_id, ScimGroup.scim_id == group_id))
            if pk is None:
                return GroupSlice(group_id, None)
            members = select(ScimMember.user_pk).where(ScimMember.group_pk == pk,
                                                       ScimMember.user_pk.is_not(None))
            users = self._user_rows(session, ScimUser.pk.in_(members))
            return GroupSlice(group_id, self._groups_by_pk(session, [pk])[0],
                              tuple(users.values()))

    def _groups_by_pk(self, session: Session, pks: list[int]) -> tuple[Group, ...]:
        """These groups of this connection, each with the ids of the groups that contain it."""
        parents: dict[int, list[str]] = {}
        for child_pk, parent_id in session.execute(
                select(ScimMember.child_pk, ScimGroup.scim_id)
                .join(ScimGroup, ScimGroup.pk == ScimMember.group_pk)
                .where(ScimMember.child_pk.in_(pks)).order_by(ScimMember.id)):
            parents.setdefault(child_pk, []).append(parent_id)
        rows = session.execute(select(ScimGroup.pk, ScimGroup.scim_id, ScimGroup.display_name)
                               .where(ScimGroup.connection_id == self.connection_id,
                                      ScimGroup.pk.in_(pks)).order_by(ScimGroup.pk))
        return tuple(Group(scim_id, name, tuple(parents.get(pk, ()))) for pk, scim_id, name in rows)

    # -- the whole directory --------------------------------------------------------------

    def _user_rows(self, session: Session, which: Any) -> dict[int, User]:
        """Users of this connection that match `which`, by primary key, with their e-mails."""
        emails: dict[int, list[tuple[str, bool]]] = {}
        rows = session.execute(
            select(ScimUserEmail.user_pk, ScimUserEmail.value, ScimUserEmail.primary)
            .join(ScimUser, ScimUser.pk == ScimUserEmail.user_pk)
            .where(ScimUser.connection_id == self.connection_id, which)
            .order_by(ScimUserEmail.id))
        for user_pk, value, primary in rows:
            emails.setdefault(user_pk, []).append((value, primary))
        return {user.pk: User(id=user.scim_id,
                              email=primary_email(emails.get(user.pk, []), user.user_name),
                              display_name=display_name(user.document or {}, user.user_name),
                              active=user.active)
                for user in session.scalars(select(ScimUser).where(
                    ScimUser.connection_id == self.connection_id, which).order_by(ScimUser.pk))}

    def _users(self, session: Session, snapshot: Snapshot) -> dict[int, str]:
        ids: dict[int, str] = {}
        for pk, user in self._user_rows(session, true()).items():
            snapshot.add_user(user)
            ids[pk] = user.id
        return ids

    def _groups(self, session: Session, snapshot: Snapshot) -> dict[int, tuple[str, str]]:
        groups: dict[int, tuple[str, str]] = {}
        for pk, scim_id, name in session.execute(
                select(ScimGroup.pk, ScimGroup.scim_id, ScimGroup.display_name)
                .where(ScimGroup.connection_id == self.connection_id).order_by(ScimGroup.pk)):
            groups[pk] = (scim_id, name)
        return groups

    def _members(self, session: Session, snapshot: Snapshot, user_ids: dict[int, str],
                 groups: dict[int, tuple[str, str]]) -> None:
        parents: dict[int, list[str]] = {}
        members: list[tuple[str, str]] = []
        for group_pk, user_pk, child_pk in session.execute(
                select(ScimMember.group_pk, ScimMember.user_pk, ScimMember.child_pk)
                .join(ScimGroup, ScimGroup.pk == ScimMember.group_pk)
                .where(ScimGroup.connection_id == self.connection_id).order_by(ScimMember.id)):
            # Rows written after the users and groups were read belong to the next sync.
            if group_pk not in groups:
                continue
            if user_pk is not None:
                if user_pk in user_ids:
                    members.append((groups[group_pk][0], user_ids[user_pk]))
            elif child_pk in groups:
                parents.setdefault(child_pk, []).append(groups[group_pk][0])
        for pk, (scim_id, name) in groups.items():
            snapshot.add_group(Group(scim_id, name, tuple(parents.get(pk, ()))))
        for group_id, user_id in members:
            snapshot.add_member(group_id, user_id)
