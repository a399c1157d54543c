"""Site tables: the geofence, check-ins with their photos, daily construction logs (施工日志) as
typed rows the risk model can query, and live check-in requests.

Coordinates are WGS-84 decimal degrees: the browser's Geolocation API and photo EXIF GPS both
use WGS-84, so they compare directly (no GCJ-02 conversion; a map that shows them would need it).
Times are UTC; quantities are Decimal."""

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import JSONType, UTCDateTime, utcnow
from backend.extensions import db

Degrees = sa.Numeric(10, 7)  # ~1 cm
Quantity = sa.Numeric(14, 3)
Celsius = sa.Numeric(4, 1)


class ProjectSite(db.Model):
    """The project's site: a point and a radius (the geofence)."""

    __tablename__ = "project_site"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"), unique=True)
    latitude: Mapped[Decimal] = mapped_column(Degrees)
    longitude: Mapped[Decimal] = mapped_column(Degrees)
    radius_m: Mapped[int] = mapped_column(sa.Integer)
    address: Mapped[str] = mapped_column(sa.String(200), default="")
    updated_by: Mapped[str] = mapped_column(sa.String(120))
    updated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


class SiteCheckin(db.Model):
    """One check-in. `flags` holds the check-in's own codes plus those of its photos, so
    `flagged` answers "only flagged" without a join."""

    __tablename__ = "site_checkin"
    __table_args__ = (sa.Index("ix_site_checkin_project_at", "project_id", "checked_in_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"))
    username: Mapped[str] = mapped_column(sa.String(120))
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("unit.id"))
    checked_in_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    latitude: Mapped[Decimal | None] = mapped_column(Degrees)
    longitude: Mapped[Decimal | None] = mapped_column(Degrees)
    accuracy_m: Mapped[Decimal | None] = mapped_column(sa.Numeric(10, 1))
    distance_m: Mapped[int | None] = mapped_column(sa.Integer)  # from the site's centre
    note: Mapped[str] = mapped_column(sa.Text, default="")
    flags: Mapped[list] = mapped_column(JSONType, default=list)
    flagged: Mapped[bool] = mapped_column(default=False, index=True)

    photos: Mapped[list["SitePhoto"]] = relationship(
        primaryjoin="SitePhoto.checkin_id == SiteCheckin.id", order_by="SitePhoto.id", viewonly=True
    )


class SitePhoto(db.Model):
    """A photo of a check-in or of a daily log, with what its EXIF said and its flags."""

    __tablename__ = "site_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"), index=True)
    checkin_id: Mapped[int | None] = mapped_column(sa.ForeignKey("site_checkin.id"), index=True)
    log_id: Mapped[int | None] = mapped_column(sa.ForeignKey("site_log.id"), index=True)
    sha256: Mapped[str] = mapped_column(sa.ForeignKey("stored_file.sha256"))
    name: Mapped[str] = mapped_column(sa.String(255))
    width: Mapped[int] = mapped_column(sa.Integer)
    height: Mapped[int] = mapped_column(sa.Integer)
    taken_at: Mapped[object | None] = mapped_column(UTCDateTime)  # EXIF DateTimeOriginal
    latitude: Mapped[Decimal | None] = mapped_column(Degrees)  # EXIF GPS
    longitude: Mapped[Decimal | None] = mapped_column(Degrees)
    distance_m: Mapped[int | None] = mapped_column(sa.Integer)
    flags: Mapped[list] = mapped_column(JSONType, default=list)
    thumb_sha256: Mapped[str | None] = mapped_column(sa.ForeignKey("stored_file.sha256"))
    thumb_state: Mapped[str] = mapped_column(sa.String(10), default="pending")  # pending | done | failed
    uploaded_by: Mapped[str] = mapped_column(sa.String(120))
    uploaded_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


class SiteLog(db.Model):
    """施工日志: one per project and day (Asia/Shanghai date)."""

    __tablename__ = "site_log"
    __table_args__ = (sa.UniqueConstraint("project_id", "log_date", name="uq_site_log_project_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"))
    log_date: Mapped[object] = mapped_column(sa.Date)
    weather: Mapped[str] = mapped_column(sa.String(20))  # a code of service.WEATHER
    temp_min: Mapped[Decimal | None] = mapped_column(Celsius)
    temp_max: Mapped[Decimal | None] = mapped_column(Celsius)
    work_done: Mapped[str] = mapped_column(sa.Text, default="")
    problems: Mapped[str] = mapped_column(sa.Text, default="")
    needs_coordination: Mapped[bool] = mapped_column(default=False)  # 需协调
    headcount: Mapped[int] = mapped_column(sa.Integer, default=0)  # sum of the workforce rows
    # needs_coordination, shortage and the photos' codes: what a spot-check looks at first.
    flags: Mapped[list] = mapped_column(JSONType, default=list)
    flagged: Mapped[bool] = mapped_column(default=False, index=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_by: Mapped[str] = mapped_column(sa.String(120))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(sa.String(120))
    updated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)

    workforce: Mapped[list["SiteLogWorkforce"]] = relationship(
        order_by="SiteLogWorkforce.id", cascade="all, delete-orphan"
    )
    materials: Mapped[list["SiteLogMaterial"]] = relationship(
        order_by="SiteLogMaterial.id", cascade="all, delete-orphan"
    )
    shortages: Mapped[list["SiteLogShortage"]] = relationship(
        order_by="SiteLogShortage.id", cascade="all, delete-orphan"
    )
    equipment: Mapped[list["SiteLogEquipment"]] = relationship(
        order_by="SiteLogEquipment.id", cascade="all, delete-orphan"
    )
    wbs_links: Mapped[list["SiteLogWbs"]] = relationship(cascade="all, delete-orphan")
    photos: Mapped[list[SitePhoto]] = relationship(
        primaryjoin="SitePhoto.log_id == SiteLog.id", order_by="SitePhoto.id", viewonly=True
    )


class SiteLogWorkforce(db.Model):
    __tablename__ = "site_log_workforce"

    id: Mapped[int] = mapped_column(primary_key=True)
    log_id: Mapped[int] = mapped_column(sa.ForeignKey("site_log.id"), index=True)
    trade: Mapped[str] = mapped_column(sa.String(20))  # a code of service.TRADES
    headcount: Mapped[int] = mapped_column(sa.Integer)


class SiteLogMaterial(db.Model):
    """Materials received (进场材料)."""

    __tablename__ = "site_log_material"

    id: Mapped[int] = mapped_column(primary_key=True)
    log_id: Mapped[int] = mapped_column(sa.ForeignKey("site_log.id"), index=True)
    material: Mapped[str] = mapped_column(sa.String(100))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit: Mapped[str] = mapped_column(sa.String(20))


class SiteLogShortage(db.Model):
    """Materials short (材料短缺): what is needed and what it holds up."""

    __tablename__ = "site_log_shortage"

    id: Mapped[int] = mapped_column(primary_key=True)
    log_id: Mapped[int] = mapped_column(sa.ForeignKey("site_log.id"), index=True)
    material: Mapped[str] = mapped_column(sa.String(100))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit: Mapped[str] = mapped_column(sa.String(20))
    impact: Mapped[str] = mapped_column(sa.Text, default="")


class SiteLogEquipment(db.Model):
    __tablename__ = "site_log_equipment"

    id: Mapped[int] = mapped_column(primary_key=True)
    log_id: Mapped[int] = mapped_column(sa.ForeignKey("site_log.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    count: Mapped[int] = mapped_column(sa.Integer)
    state: Mapped[str] = mapped_column(sa.String(20))  # a code of service.EQUIPMENT_STATES


class SiteLogWbs(db.Model):
    __tablename__ = "site_log_wbs"

    log_id: Mapped[int] = mapped_column(sa.ForeignKey("site_log.id"), primary_key=True)
    wbs_item_id: Mapped[int] = mapped_column(sa.ForeignKey("wbs_item.id"), primary_key=True)


class SiteLogRevision(db.Model):
    """Each save of a log: who, when, and the content as saved (canonical JSON)."""

    __tablename__ = "site_log_revision"
    __table_args__ = (sa.UniqueConstraint("log_id", "version", name="uq_site_log_revision_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    log_id: Mapped[int] = mapped_column(sa.ForeignKey("site_log.id"))
    version: Mapped[int] = mapped_column(sa.Integer)
    saved_by: Mapped[str] = mapped_column(sa.String(120))
    saved_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    content: Mapped[dict] = mapped_column(JSONType)


class SiteCheckinRequest(db.Model):
    """实时打卡要求: open until a check-in answers it or its deadline passes (expired)."""

    __tablename__ = "site_checkin_request"
    __table_args__ = (sa.Index("ix_site_checkin_request_state_deadline", "state", "deadline_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"), index=True)
    requested_by: Mapped[str] = mapped_column(sa.String(120))
    requested_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    limit_minutes: Mapped[int] = mapped_column(sa.Integer)
    deadline_at: Mapped[object] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    state: Mapped[str] = mapped_column(sa.String(10), default="open")  # open | answered | expired
    checkin_id: Mapped[int | None] = mapped_column(sa.ForeignKey("site_checkin.id"))
    closed_at: Mapped[object | None] = mapped_column(UTCDateTime)

    @property
    def shown_state(self) -> str:
        """What pages show: an open request past its deadline reads as expired before the
        scheduler's tick records it (pages never write on GET: SQLite read transactions)."""
        if self.state == "open" and self.deadline_at < utcnow():
            return "expired"
        return self.state
