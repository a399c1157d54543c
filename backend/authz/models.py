"""Roles and their permissions as data, so the security admin can change the grants."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db


class Role(db.Model):
    """A role: built-in (seeded from permissions.DEFAULT_GRANTS) or added by the security admin."""

    __tablename__ = "role"

    code: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    builtin: Mapped[bool] = mapped_column(default=True, server_default=sa.true())


class RolePermission(db.Model):
    """One permission granted to one role."""

    __tablename__ = "role_permission"

    role: Mapped[str] = mapped_column(sa.ForeignKey("role.code", ondelete="CASCADE"), primary_key=True)
    permission: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
