"""The three administrators at work in the browser: each signs in with the second factor,
reaches their own page and is refused the others' (三员分立); the audit admin finds the
sign-ins just made, each with its source address."""

from tests.browser.helpers import sign_in, sign_out

PAGES = {"sysadmin": "/admin/users", "secadmin": "/admin/roles", "auditadmin": "/admin/audit"}


def test_three_admins_each_reach_only_their_own_page(page, live_server, screenshot):
    for admin, own in PAGES.items():
        sign_in(page, live_server, admin)
        response = page.goto(f"{live_server.url}{own}")
        assert response.status == 200, (admin, own)
        screenshot(page, f"admin-{admin}")
        for other, path in PAGES.items():
            if other != admin:
                assert page.goto(f"{live_server.url}{path}").status == 403, (admin, path)
        sign_out(page)

    sign_in(page, live_server, "auditadmin")
    page.goto(f"{live_server.url}/admin/audit?action=auth.login")
    rows = page.locator("tr[data-action='auth.login']")
    text = " ".join(rows.all_inner_texts())
    for admin in PAGES:
        assert admin in text, admin
    assert "127.0.0.1" in text
    screenshot(page, "admin-audit-logins")
