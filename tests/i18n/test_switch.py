"""Chinese by default, English from the browser's Accept-Language or the 中文 | English switch."""

import json
from html import unescape
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from backend.forms.render import render_form
from backend.workdays.service import seed_from_chinese_calendar
from backend.workflow import service as workflow
from backend.workflow.deploy import deploy_files
from backend.workflow.models import HumanTask

from ..workflow.conftest import BPMN_DIR
from .conftest import sign_in


def text(response) -> str:
    return response.get_data(as_text=True)


def test_chinese_by_default(app, session, client):
    page = text(client.get("/login"))
    assert '<html lang="zh-CN">' in page
    assert "请使用您的账号登录" in page and "Sign in with your account" not in page
    # The switch offers English, coming back to this page.
    assert 'href="/lang/en?next=/login"' in page


def test_accept_language_english_gives_the_english_sign_in_page(app, session, client):
    page = text(client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}))
    assert '<html lang="en">' in page
    assert "Sign in with your account" in page and ">Sign in</button>" in page
    assert "请使用您的账号登录" not in page
    assert "<title>Sign in - Key Project Management Platform</title>" in page


def test_a_chinese_browser_stays_chinese(app, session, client):
    page = text(client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}))
    assert '<html lang="zh-CN">' in page and "请使用您的账号登录" in page


def test_switch_to_english_and_back_on_the_inbox(app, session, client, reviewer):
    sign_in(client)
    assert "待签收" in text(client.get("/inbox"))

    response = client.get("/lang/en?next=/inbox%3Ftab%3Dgroup")
    assert response.status_code == 302 and response.headers["Location"] == "/inbox?tab=group"
    page = unescape(text(client.get("/inbox")))
    assert '<html lang="en">' in page
    for tab in ("To-do", "To claim", "Done", "CC'd to me", "Started by me"):
        assert tab in page, tab
    assert "My work" in page and "待签收" not in page and "我的工作" not in page
    assert 'aria-current="true">English</span>' in page

    client.get("/lang/zh?next=/inbox")
    page = text(client.get("/inbox"))
    assert '<html lang="zh-CN">' in page and "待签收" in page and "To claim" not in page


def test_the_choice_beats_the_browser_and_survives_signing_in(app, session, client, reviewer):
    client.get("/lang/en?next=/login", headers={"Accept-Language": "zh-CN"})
    sign_in(client, headers={"Accept-Language": "zh-CN"})
    page = text(client.get("/inbox", headers={"Accept-Language": "zh-CN"}))
    assert "To claim" in page and "待签收" not in page


def test_flashed_messages_follow_the_language(app, session, client, reviewer):
    sign_in(client)
    client.get("/lang/en")
    response = client.post("/logout", follow_redirects=True)
    assert "You have signed out." in text(response) and "您已安全退出" not in text(response)


def test_an_unknown_language_changes_nothing(app, session, client):
    client.get("/lang/en")
    response = client.get("/lang/fr?next=/login")
    assert response.headers["Location"] == "/login"
    assert '<html lang="en">' in text(client.get("/login"))


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/login",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "http://localhost.evil.example/",
    ],
)
def test_next_never_leaves_the_site(app, session, client, target):
    response = client.get("/lang/en", query_string={"next": target})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("", "", "/")


def test_without_next_it_goes_back_to_the_referring_page_of_this_site(app, session, client):
    response = client.get("/lang/en", headers={"Referer": "http://localhost/login?next=/inbox"})
    assert response.headers["Location"] == "/login?next=/inbox"
    response = client.get("/lang/en", headers={"Referer": "https://evil.example/login"})
    assert response.headers["Location"] == "/"


def test_the_form_renderer_speaks_the_request_language(app):
    schema = {
        "type": "object",
        "properties": {
            "approved": {"type": "boolean", "title": "同意", "widget": "radio"},
            "items": {"type": "array", "title": "事项", "items": {"type": "string", "title": "事项"}},
        },
        "required": ["approved"],
    }
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        html = str(render_form(schema, values={"items": ["a"]}))
    assert 'title="Required"' in html and ">Remove</button>" in html and "Add 事项" in html
    # The schema's own titles are data: they stay as written.
    assert "同意" in html and "必填" not in html
    with app.test_request_context("/"):
        html = str(render_form(schema, values={"items": ["a"]}))
    assert 'title="必填"' in html and ">删除</button>" in html and "添加事项" in html


def test_outside_a_request_the_default_language_is_used(app):
    with app.app_context():
        from flask_babel import gettext

        assert gettext("待办") == "待办"


@pytest.fixture()
def flow(app, session, world, reviewer, tmp_path, monkeypatch):
    """three_steps deployed with a small review form; the applicant has submitted, li reviews."""
    form = {
        "title": "审核",
        "type": "object",
        "properties": {"approved": {"type": "boolean", "title": "同意"}, "opinion": {"type": "string"}},
        "required": ["approved"],
    }
    (tmp_path / "review.json").write_text(json.dumps(form), encoding="utf-8")
    monkeypatch.setitem(app.config, "FORMS_DIR", str(tmp_path))
    seed_from_chinese_calendar(session=session)
    bpmn = (BPMN_DIR / "three_steps.bpmn").read_text(encoding="utf-8")
    deploy_files(session=session, files={"three_steps.bpmn": bpmn}, forms_dir=tmp_path, deployed_by="test")
    project = world.project("2026-330102-48-01-000009", "330102")
    instance = workflow.start_instance(
        session=session,
        process_key="three_steps",
        data={"applicant": "applicant"},
        business_key=project.code,
        started_by="applicant",
    )
    submit = session.scalar(sa.select(HumanTask).filter_by(instance_id=instance.id, element_id="submit"))
    workflow.complete_task(
        session=session, task_id=submit.id, data={"approved": True, "opinion": "材料齐全"}, actor="applicant"
    )
    session.commit()
    return session.scalar(
        sa.select(HumanTask).filter_by(instance_id=instance.id, element_id="review", state="open")
    )


def test_the_task_page_in_english(app, session, client, flow):
    sign_in(client)
    client.post(f"/tasks/{flow.id}/claim")
    client.get("/lang/en")
    page = unescape(text(client.get(f"/tasks/{flow.id}")))
    for words in (
        "Project overview",
        "Where it stands",
        "handled by li",
        "History",
        "applicant</strong> completed",
        "Opinion: 材料齐全",
        "Transfer to (username)",
        ">Submit</button>",
        "Save draft",
        'title="Required"',
    ):
        assert words in page, words
    # Data stays as entered: the step's and the form's titles, the project's name.
    assert "初审" in page and "审核" in page and "项目 2026-330102-48-01-000009" in page


def test_the_switch_works_while_the_initial_password_must_be_changed(app, session, client, world):
    from backend.accounts.service import set_password

    from .conftest import PASSWORD

    user = world.user("newbie", department=world.fgw)
    set_password(user=user, password=PASSWORD, must_change=True, enforce_policy=False)
    session.commit()
    sign_in(client, "newbie")
    response = client.get("/lang/en?next=/password")
    assert response.headers["Location"] == "/password"
    assert "Confirm new password" in text(client.get("/password"))
