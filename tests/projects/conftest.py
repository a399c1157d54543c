import pytest

from .factories import make_org


@pytest.fixture()
def org(session):
    made = make_org(session)
    session.commit()
    return made
