"""What the browser tests share: the running server (and the database reads that pick who
acts next) and signing in and out through the pages."""

from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import sqlalchemy as sa

from backend.org.models import Department, User
from backend.workflow.models import HumanTask

DEMO_PASSWORD = "Demo@2026!"  # backend/accounts/demo.py
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPDEMOKEYPROJECTS2"  # backend/accounts/demo.py
NEW_PASSWORD = "Browser@2026x"


@dataclass
class LiveServer:
    url: str
    engine: sa.Engine
    log: Path
    # Demo people sign in with the initial password once and must change it; kept here.
    passwords: dict[str, str] = field(default_factory=dict)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    # Reading the database only to pick who acts next; the tests act through the pages.
    def open_tasks(self, business_key: str) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(HumanTask.id, HumanTask.title, HumanTask.assignee, HumanTask.candidate_group)
                .where(HumanTask.business_key == business_key, HumanTask.state == "open")
                .order_by(HumanTask.created_at, HumanTask.id)
            )
            return [dict(r._mapping) for r in rows]

    def user_for(self, task: dict) -> str:
        """The assignee, else the first active person in the task's candidate group."""
        if task["assignee"]:
            return task["assignee"]
        with self.engine.connect() as conn:
            people = conn.execute(
                sa.select(User.username, User.roles, User.unit_id, Department.code)
                .outerjoin(Department, Department.id == User.department_id)
                .where(User.active.is_(True))
                .order_by(User.username)
            ).all()
        for username, roles, unit_id, department in people:
            groups = set(roles or [])
            if department:
                groups |= {f"{department}.{role}" for role in roles or []}
            if unit_id is not None:
                groups.add(f"unit.{unit_id}")
            if task["candidate_group"] in groups:
                return username
        raise AssertionError(f"nobody may act on {task}")


def sign_in(page, server: LiveServer, username: str) -> None:
    """Sign in on the login page; at the first sign-in change the initial password."""
    page.goto(f"{server.url}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(server.passwords.get(username, DEMO_PASSWORD))
    with page.expect_navigation():
        page.get_by_role("button", name="登录").click()
    if "/login/verify" in page.url:
        # Demo admins and heads have the demo TOTP secret (backend/accounts/demo.py). A code is
        # accepted once per 30 s step: forget the last one, as a second device would not know it.
        with server.engine.begin() as conn:
            conn.execute(sa.update(User).where(User.username == username).values(totp_last_step=None))
        page.get_by_label("动态口令").fill(pyotp.TOTP(DEMO_TOTP_SECRET).now())
        with page.expect_navigation():
            page.get_by_role("button", name="验证").click()
    if "/password" in page.url:
        page.get_by_label("当前密码").fill(DEMO_PASSWORD)
        page.get_by_label("新密码", exact=True).fill(NEW_PASSWORD)
        page.get_by_label("确认新密码").fill(NEW_PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="保存").click()
        server.passwords[username] = NEW_PASSWORD
    assert "/login" not in page.url and "/password" not in page.url, (
        f"{username} could not sign in: {page.locator('main').inner_text()}"
    )


def sign_out(page) -> None:
    """退出登录 from the user menu (behind the navbar toggler on a phone)."""
    toggler = page.locator(".navbar-toggler")
    if toggler.is_visible():
        toggler.click()
    page.locator("#main-nav .dropdown-toggle").click()
    with page.expect_navigation():
        page.get_by_role("button", name="退出登录").click()
    assert "/login" in page.url


def minimal_pdf(title: str) -> bytes:
    """A valid one-page PDF (catalog, page tree, page, info) with a correct xref table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> >>",
        b"<< /Title (" + title.encode("ascii") + b") /Producer (tests/browser) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def summary_pdf(rows) -> bytes:
    """A 项目建议书 of one summary table of (label, value) rows, as a text PDF (OCR tests)."""
    import weasyprint

    table = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows)
    html = (
        "<html><head><style>body{font-family:'Noto Sans CJK SC'}</style></head><body>"
        f"<h1>项目建议书</h1><table>{table}</table></body></html>"
    )
    return weasyprint.HTML(string=html).write_pdf()
