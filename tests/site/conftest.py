"""Fixtures of the site tests: the API tests' organisation, a project in 西湖区 with a site at
a known point, a contract (contractor = org.other_unit, supervisor = its own unit), the site's
people, an inspector, a stranger contractor; and JPEGs carrying EXIF time and GPS."""

import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pytest
from PIL import ExifTags, Image

from backend.accounts.service import set_password
from backend.contracts.models import Contract
from backend.org.models import Unit, User
from backend.site.models import ProjectSite
from tests.api.conftest import PASSWORD, client, make_project, org, signed_in  # noqa: F401  (fixtures)

CODE = "2026-330106-48-01-000888"
# The site: 西湖区, 30.2500 N 120.1500 E, radius 200 m.
SITE_LAT = Decimal("30.2500000")
SITE_LON = Decimal("120.1500000")
RADIUS = 200


@dataclass
class People:
    applicant: User  # owner unit (owner role: project.read, schedule.edit; no site.checkin)
    builder: User  # contractor of the contract
    monitor: User  # supervisor unit of the contract (supervisor role)
    inspector: User  # province inspector: site.inspect, sees the project by region
    stranger: User  # a contractor with no contract on the project
    far_inspector: User  # inspector of 宁波: the project is out of scope


@pytest.fixture()
def project(session, org):  # noqa: F811
    made = make_project(session, org, CODE, "330106", name="西湖区综合管廊工程")
    session.commit()
    return made


@pytest.fixture()
def site(session, project):
    row = ProjectSite(
        project_id=project.id,
        latitude=SITE_LAT,
        longitude=SITE_LON,
        radius_m=RADIUS,
        address="西湖区文三路",
        updated_by="t",
    )
    session.add(row)
    session.commit()
    return row


@pytest.fixture()
def people(session, org, project):  # noqa: F811
    supervisor_unit = Unit(name="浙江江南工程管理股份有限公司", kind="supervisor", region_code="330000")
    stranger_unit = Unit(name="某某建设有限公司", kind="contractor", region_code="330000")
    session.add_all([supervisor_unit, stranger_unit])
    session.flush()
    session.add(
        Contract(
            number="HT-SITE-1",
            name="施工合同",
            project_id=project.id,
            party_a_unit_id=org.unit.id,
            party_b_unit_id=org.other_unit.id,
            supervisor_unit_id=supervisor_unit.id,
            amount=Decimal("1000.00"),
        )
    )
    users = People(
        applicant=org.applicant,
        builder=User(
            username="builder", display_name="刘洋", roles=["contractor"], unit_id=org.other_unit.id
        ),
        monitor=User(
            username="monitor", display_name="黄磊", roles=["supervisor"], unit_id=supervisor_unit.id
        ),
        inspector=User(username="insp", display_name="施红梅", roles=["inspector"], region_code="330000"),
        stranger=User(
            username="stranger", display_name="路人", roles=["contractor"], unit_id=stranger_unit.id
        ),
        far_inspector=User(
            username="insp_nb", display_name="宁波督查", roles=["inspector"], region_code="330200"
        ),
    )
    session.add_all([users.builder, users.monitor, users.inspector, users.stranger, users.far_inspector])
    session.flush()
    for user in vars(users).values():
        set_password(user=user, password=PASSWORD, enforce_policy=False)
    session.commit()
    return users


def dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return (float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 4))


def jpeg(
    *,
    gps: tuple | None = None,
    taken: str | None = None,
    offset: str | None = None,
    size=(64, 48),
    orientation: int | None = None,
    colour="red",
) -> bytes:
    """A JPEG; `gps` = (lat_dms, "N"/"S", lon_dms, "E"/"W") of rationals as Pillow writes them,
    `taken` = "YYYY:MM:DD HH:MM:SS" (DateTimeOriginal), `offset` = OffsetTimeOriginal."""
    image = Image.new("RGB", size, colour)
    exif = Image.Exif()
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    if taken:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
        if offset:
            exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.OffsetTimeOriginal] = offset
    if gps:
        lat, lat_ref, lon, lon_ref = gps
        ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        ifd[ExifTags.GPS.GPSLatitudeRef] = lat_ref
        ifd[ExifTags.GPS.GPSLatitude] = lat
        ifd[ExifTags.GPS.GPSLongitudeRef] = lon_ref
        ifd[ExifTags.GPS.GPSLongitude] = lon
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def site_photo(when: datetime, *, north_m: float = 0) -> bytes:
    """A photo taken at `when` (Beijing clock) `north_m` metres north of the site's centre."""
    lat = float(SITE_LAT) + north_m / 111_195.08  # metres per degree of latitude on our sphere
    return jpeg(
        gps=(dms(lat), "N", dms(float(SITE_LON)), "E"),
        taken=when.strftime("%Y:%m:%d %H:%M:%S"),
        offset="+08:00",
    )
