"""Our mirror of what a connection manages on the Atlassian site: its groups and their members."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.columns import connection_ref, moment


class ManagedGroup(Base):
    """A site group a connection manages, as of its last reconcile and our writes since.

    `admin_rights` is the verdict of the last admin-permission probe of its members (None:
    not probed yet); `reconciled_at` when its members were last read from the site.
    """

    __tablename__ = "managed_group"

    connection_id: Mapped[int] = connection_ref(primary_key=True)
    group_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    admin_rights: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    reconciled_at: Mapped[datetime | None] = moment()


class ManagedMembership(Base):
    """One account in a managed group, as the mirror knows it (every member, ours or not).

    `active` is False for an account the site reported deactivated when it was read.
    """

    __tablename__ = "managed_membership"
    __table_args__ = (Index("ix_managed_membership_connection_account", "connection_id",
                            "account_id"),)

    connection_id: Mapped[int] = connection_ref(primary_key=True)
    group_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class MirrorCount(Base):
    """How many managed_membership rows a connection has, kept by every write to them.

    Every run that plans a change needs the figure (the guard's removal percentage); counting
    the rows costs a pass over a million of them. A missing row means unknown: the next
    `mirror.size` counts them and stores the figure again."""

    __tablename__ = "mirror_count"

    connection_id: Mapped[int] = connection_ref(primary_key=True)
    memberships: Mapped[int] = mapped_column(Integer)


class SiteAccount(Base):
    """What the site answered when asked whether an account is a site admin (Administer Jira),
    remembered so that taking a membership away asks once per account, not once per run.

    Forgotten at each drift reconcile, which asks again: a permission granted by hand in
    between is found within the reconcile interval, like any other manual edit of the site.
    """

    __tablename__ = "site_account"

    connection_id: Mapped[int] = connection_ref(primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    site_admin: Mapped[bool] = mapped_column(Boolean)
    checked_at: Mapped[datetime] = moment()


class AdminMember(Base):
    """A member of one of the site's admin-named groups (site-admins, jira-admins-…), as the
    last reconcile read them: an admin for the membership removals of ordinary managed groups,
    which then need no permission check per account."""

    __tablename__ = "admin_member"

    connection_id: Mapped[int] = connection_ref(primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(128), primary_key=True)
