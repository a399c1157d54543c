"""The site demo loader on the contracts tests' approved project: a site, two check-ins (one
flagged), two logs (yesterday's flagged), thumbnails queued; loading again changes nothing."""

import subprocess
import sys

import sqlalchemy as sa

from backend import jobs
from backend.contracts.demo import load_contracts
from backend.extensions import db
from backend.org.models import User
from backend.site.demo import load_site
from backend.site.models import ProjectSite, SiteCheckin, SiteLog, SitePhoto
from tests.contracts.conftest import clock, deployed, outbox, world  # noqa: F401  (fixtures)


def counts(session) -> dict[str, int]:
    return {
        table.name: session.scalar(sa.select(sa.func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def test_loader_runs_after_contracts():
    script = (
        "from backend import create_app; from backend.demo import LOADERS; "
        "create_app({'SQLALCHEMY_DATABASE_URI': 'sqlite://'}); print(' '.join(f.__name__ for f in LOADERS))"
    )
    names = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert names.index("load_contracts") < names.index("load_site")


def test_demo_site(session, world, clock):  # noqa: F811
    session.add(
        User(username="contractor", display_name="刘洋", roles=["contractor"], unit_id=world.contractor.id)
    )
    session.commit()
    assert load_contracts(session=session) == 6
    session.commit()
    assert load_site(session=session) == 1 + 4
    session.commit()
    site = session.scalar(sa.select(ProjectSite))
    assert site.project_id == world.project.id and site.radius_m == 300
    checkins = session.scalars(sa.select(SiteCheckin).order_by(SiteCheckin.id)).all()
    assert [c.flags for c in checkins] == [[], ["no_location", "photo_no_exif"]]
    assert checkins[0].distance_m is not None and checkins[0].distance_m < 300
    logs = session.scalars(sa.select(SiteLog).order_by(SiteLog.log_date)).all()
    assert [log.flagged for log in logs] == [True, False]
    assert logs[0].flags == ["needs_coordination", "shortage"] and logs[1].headcount == 46
    jobs.drain()
    session.expire_all()
    assert {p.thumb_state for p in session.scalars(sa.select(SitePhoto))} == {"done"}

    before = counts(session)
    assert load_site(session=session) == 0
    session.commit()
    assert counts(session) == before
