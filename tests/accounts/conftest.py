"""An app with accounts registered, on the suite's database (until create_app registers
accounts itself, when `init_app` here is skipped)."""

from contextlib import contextmanager

import pytest

from backend import accounts, create_app
from backend.accounts import service
from backend.extensions import db
from backend.jobs import broker
from backend.org.models import User

PASSWORD = "Sichuan#2026"


def make_web_app(app, **config):
    web = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": app.config["REDIS_URL"],
            "EMBEDDED_WORKERS": False,
            "FILES_DIR": app.config["FILES_DIR"],
            "SECRET_KEY": "test-secret",
            # backend/security's per-process rate limits would refuse the suite's many sign-ins;
            # the lockout (database) is what these tests check.
            "LOGIN_RATE_LIMIT": "",
            "LOGIN_ACCOUNT_RATE_LIMIT": "",
            **config,
        }
    )
    if "accounts" not in web.blueprints:
        accounts.init_app(web)
    broker.configure(app)  # the broker is process-wide: give it back to the suite's app
    return web


@pytest.fixture(scope="session")
def web(app):
    web = make_web_app(app, WTF_CSRF_ENABLED=False)
    yield web
    with web.app_context():
        db.engine.dispose()


@contextmanager
def web_context(web):
    """A unit of work of the web app, like a request's (requests made inside it would share
    its `g` and session, so tests make requests outside)."""
    with web.app_context():
        try:
            yield db.session
        finally:
            db.session.rollback()
            db.session.remove()


@pytest.fixture()
def web_session(web, session):
    """The web app's context with the suite's clean database (`session` empties it after)."""
    with web_context(web) as web_db:
        yield web_db


@pytest.fixture()
def client(web, session):
    return web.test_client()


@pytest.fixture()
def person(web, session) -> int:
    """Id of a signed-up reviewer whose password is PASSWORD."""
    with web_context(web) as web_db:
        user = User(username="fgw_reviewer", display_name="李明", roles=["reviewer"])
        service.set_password(user=user, password=PASSWORD)
        web_db.add(user)
        web_db.commit()
        return user.id


def add_person(web, username: str, roles: list[str], password: str = PASSWORD, **fields) -> int:
    """Another person with a password (roles decide whether the second factor is required)."""
    with web_context(web) as web_db:
        user = User(username=username, display_name=username, roles=roles, **fields)
        service.set_password(user=user, password=password)
        web_db.add(user)
        web_db.commit()
        return user.id
