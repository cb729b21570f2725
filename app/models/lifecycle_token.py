"""A lifecycle token already accepted, kept as a hash until it expires, so it cannot be replayed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.columns import moment, stamped


class UsedLifecycleToken(Base):
    """The install token does not sign the body, so each one is accepted once.

    `body_hash` lets an identical retry (same token, same body) be answered as already done,
    while the same token with any other body is refused.
    """

    __tablename__ = "used_lifecycle_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    body_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = moment(index=True)
    used_at: Mapped[datetime] = stamped()
