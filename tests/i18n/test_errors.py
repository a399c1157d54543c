"""Refusals raised by the account services read in the language of the page that shows them."""

from html import unescape

from backend.accounts.errors import InvalidCredentials
from backend.accounts.passwords import password_problems

from .conftest import PASSWORD, sign_in


def test_a_failed_sign_in_in_english(app, session, client, reviewer):
    client.get("/lang/en")
    response = client.post("/login", data={"username": "li", "password": "wrong"})
    assert response.status_code == 401
    assert "Wrong username or password." in unescape(response.get_data(as_text=True))


def test_a_weak_new_password_in_english_lists_every_broken_rule(app, session, client, reviewer):
    sign_in(client)
    client.get("/lang/en")
    response = client.post(
        "/password",
        data={"current_password": PASSWORD, "new_password": "abc", "confirm_password": "abc"},
    )
    page = unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert (
        "The password does not meet the requirements: at least 8 characters long; "
        "at least 3 of: lowercase letters, uppercase letters, digits, symbols"
    ) in page


def test_outside_a_request_the_messages_stay_chinese():
    assert str(InvalidCredentials()) == "用户名或密码错误"
    assert [str(p) for p in password_problems("abc")] == [
        "长度至少 8 位",
        "需包含小写字母、大写字母、数字、符号中的至少 3 类",
    ]


def test_a_refused_claim_in_english(app, session, client, reviewer, world):
    task = world.task(group="cz.reviewer")
    other = world.task(assignee="wang")
    session.commit()
    sign_in(client)
    client.get("/lang/en")
    page = unescape(client.post(f"/tasks/{task.id}/claim", follow_redirects=True).get_data(as_text=True))
    # The group by name (财政局 is data, the role is translated), not its code.
    assert "You are not in this task's candidate group (财政局 Reviewer), so you cannot claim it." in page
    page = unescape(
        client.post(f"/tasks/{other.id}/transfer", data={"to": "x"}, follow_redirects=True).get_data(
            as_text=True
        )
    )
    assert "Only the current handler can transfer it (the current handler is wang)." in page


def test_task_refusals_stay_chinese_outside_a_request():
    from backend.tasks.errors import NotAssignee, ReasonRequired

    assert str(NotAssignee("t1", "wang", "转办")) == "只有当前办理人可以转办 (当前办理人为 wang)"
    assert str(NotAssignee("t1", None, "新动作")) == "只有当前办理人可以新动作 (该任务尚未签收)"
    assert str(ReasonRequired("委托")) == "请填写委托的理由"
