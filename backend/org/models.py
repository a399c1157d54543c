"""Who is who: administrative divisions, departments, units and the people in them."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.crypto.fields import EncryptedText
from backend.db import JSONType, UTCDateTime, utcnow
from backend.extensions import db


class Region(db.Model):
    """行政区划: a 6-digit division code; province → city → county."""

    __tablename__ = "region"

    code: Mapped[str] = mapped_column(sa.String(6), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    level: Mapped[str] = mapped_column(sa.String(10))  # province | city | county
    parent_code: Mapped[str | None] = mapped_column(sa.ForeignKey("region.code"), index=True)

    parent: Mapped["Region | None"] = relationship(remote_side=[code])


class Department(db.Model):
    """A government department taking part in approvals (发改, 财政, 住建, ...)."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Short code used in candidate groups: "<code>.<role>", e.g. "fgw.reviewer", "cz.head".
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    short_name: Mapped[str] = mapped_column(sa.String(20))
    region_code: Mapped[str] = mapped_column(sa.ForeignKey("region.code"))


class Unit(db.Model):
    """An organisation outside government: owner (建设单位), contractor, supervision unit, ..."""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # owner | contractor | supervisor | designer | finance
    credit_code: Mapped[str | None] = mapped_column(sa.String(18), unique=True)  # 统一社会信用代码
    region_code: Mapped[str | None] = mapped_column(sa.ForeignKey("region.code"))
    contact_name: Mapped[str | None] = mapped_column(sa.String(40))
    contact_phone: Mapped[str | None] = mapped_column(EncryptedText("phone"))  # SM4 at rest (issue 7)


class User(db.Model):
    """A person: a department's reviewer or head, an expert, or someone of a unit."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(60), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(60))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("unit.id"))
    region_code: Mapped[str | None] = mapped_column(sa.ForeignKey("region.code"))
    # Roles and candidate groups this person belongs to, e.g. ["reviewer"], ["expert"].
    roles: Mapped[list] = mapped_column(JSONType, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    # Sign-in (backend/accounts): argon2 hash; None means the person cannot sign in yet.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    last_login_at: Mapped[object | None] = mapped_column(UTCDateTime)
    # Authentication controls (backend/accounts, issue 7): password age for expiry; a counter
    # kept in every session of this person, bumped on password change, logout, disable and
    # admin resets so all their other sessions end; TOTP secret (SM4 token), on/off and the
    # last accepted time step (a code is accepted once).
    password_changed_at: Mapped[object | None] = mapped_column(UTCDateTime)
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    totp_secret_enc: Mapped[str | None] = mapped_column(sa.String(255))
    totp_enabled: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    locale: Mapped[str] = mapped_column(sa.String(10), default="zh_CN", server_default="zh_CN")
    # Where notifications are also mailed when the platform has an SMTP server (MAIL_SERVER).
    email: Mapped[str | None] = mapped_column(sa.String(254))

    department: Mapped[Department | None] = relationship()
    unit: Mapped[Unit | None] = relationship()

    # What flask-login asks of a user object (backend/accounts); an inactive person is refused.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return bool(self.active)

    def get_id(self) -> str:
        return str(self.id)

    @property
    def groups(self) -> set[str]:
        """Candidate groups: '<department code>.<role>' for department staff, 'unit.<id>' for
        people of a unit, plus their plain roles ('expert', 'inspector', ...)."""
        groups = set(self.roles or [])
        if self.department is not None:
            groups |= {f"{self.department.code}.{role}" for role in self.roles or []}
        if self.unit_id is not None:
            groups.add(f"unit.{self.unit_id}")
        return groups
