"""A NUL (0x00) in any text a request carries is a clear 400 up front: PostgreSQL text
cannot hold it, so it would otherwise be a 500 wherever the value reached the database
(this runs against PostgreSQL in CI's second pass; SQLite would store it silently)."""

import pytest

from .conftest import bearer, issue


@pytest.mark.parametrize(
    "method,url,body,field",
    [
        ("post", "/api/v1/messages", {"name": "a\x00b", "business_key": "x"}, "name"),
        ("post", "/api/v1/instances", {"process_key": "p", "variables": {"note": "\x00"}}, "variables.note"),
        ("get", "/api/v1/instances?business_key=a%00b", None, "business_key"),
    ],
)
def test_the_api_refuses_nul_with_a_problem_naming_the_field(client, session, org, method, url, body, field):
    secret = issue(session, "ops")
    kwargs = {"json": body} if body is not None else {}
    response = getattr(client, method)(url, headers=bearer(secret), **kwargs)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]


def test_a_page_form_with_nul_is_a_400_not_a_500(client, session, org):
    response = client.post("/login", data={"username": "adm\x00in", "password": "x"})
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)
