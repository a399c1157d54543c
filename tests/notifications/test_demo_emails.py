"""Demo people get example e-mail addresses, also on a re-load of rows made before e-mail."""

import sqlalchemy as sa

from backend.org.demo import PEOPLE, load_org
from backend.org.models import User


def test_demo_people_get_example_addresses_and_a_reload_fills_missing_ones(session):
    load_org(session=session)
    session.commit()
    emails = dict(session.execute(sa.select(User.username, User.email)).all())
    assert emails == {username: f"{username}@example.gov.cn" for username, *_ in PEOPLE}

    # Rows from before the column: no address; one set by hand stays.
    session.execute(sa.update(User).values(email=None))
    session.execute(sa.update(User).filter_by(username="fgw_head").values(email="wang.jh@fgw.zj.gov.cn"))
    session.commit()
    assert load_org(session=session) == 0
    session.commit()
    emails = dict(session.execute(sa.select(User.username, User.email)).all())
    assert emails["fgw_reviewer"] == "fgw_reviewer@example.gov.cn"
    assert emails["fgw_head"] == "wang.jh@fgw.zj.gov.cn"
    assert all(emails.values())
