"""/admin/audit: the audit admin searches, pages and exports; others are refused."""

import io
import zipfile
from datetime import timedelta

import sqlalchemy as sa

from backend.audit import record, service
from backend.audit.models import AuditRecord
from backend.db import utcnow
from tests.audit.conftest import signed_in, tamper


def _seed(session):
    for i in range(7):
        record("task.complete", username="alice", object_type="task", object_id=f"t{i}")
    record("auth.login", result="failure", username="mallory", detail={"reason": "password"})
    record("deploy", username="designer1", object_type="process_definition", object_id="p:1")
    session.commit()


def test_filters_by_user_action_result_and_object(app, session, people):
    _seed(session)
    client = signed_in(app, people["auditor"])
    page = client.get("/admin/audit?username=alice").get_data(as_text=True)
    assert page.count('data-action="task.complete"') == 7 and "mallory" not in page
    page = client.get("/admin/audit?result=failure").get_data(as_text=True)
    assert 'data-action="auth.login"' in page and 'data-action="task.complete"' not in page
    page = client.get("/admin/audit?action=dep").get_data(as_text=True)
    assert 'data-action="deploy"' in page and 'data-action="auth.login"' not in page
    page = client.get("/admin/audit?object_type=task&object_id=t3").get_data(as_text=True)
    assert page.count("data-audit-id=") == 1
    today = utcnow().strftime("%Y-%m-%d")
    tomorrow = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%d")
    assert client.get(f"/admin/audit?start={tomorrow}").get_data(as_text=True).count("data-audit-id=") == 0
    assert (
        client.get(f"/admin/audit?end={tomorrow}&start={today}")
        .get_data(as_text=True)
        .count("data-audit-id=")
        >= 9
    )


def test_keyset_paging(app, session, people, monkeypatch):
    from backend.audit import views

    _seed(session)
    monkeypatch.setattr(views, "PAGE_SIZE", 4)
    client = signed_in(app, people["auditor"])
    first = client.get("/admin/audit?username=alice").get_data(as_text=True)
    assert first.count("data-audit-id=") == 4 and "data-next-page" in first
    ids = [
        r.id
        for r in session.scalars(
            sa.select(AuditRecord).filter_by(username="alice").order_by(AuditRecord.id.desc())
        )
    ]
    second = client.get(f"/admin/audit?username=alice&before={ids[3]}").get_data(as_text=True)
    assert second.count("data-audit-id=") == 3 and "data-next-page" not in second
    assert f'data-audit-id="{ids[4]}"' in second


def test_others_are_refused(app, session, people):
    _seed(session)
    for who in ("sysadm", "reviewer"):
        client = signed_in(app, people[who])
        assert client.get("/admin/audit").status_code == 403
        assert client.get("/admin/audit/export.csv").status_code == 403


def test_csv_and_xlsx_exports_are_audited(app, session, people):
    _seed(session)
    client = signed_in(app, people["auditor"])
    response = client.get("/admin/audit/export.csv?username=alice")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data().decode("utf-8-sig")
    assert text.splitlines()[0].startswith("序号,时间")
    assert text.count("task.complete") == 7 and "mallory" not in text
    response = client.get("/admin/audit/export.xlsx?action=auth.")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "mallory" in sheet and "alice" not in sheet
    session.rollback()
    exports = session.scalars(
        sa.select(AuditRecord).filter_by(action="export").order_by(AuditRecord.id)
    ).all()
    assert [(r.username, r.object_id, r.detail["query"]) for r in exports] == [
        ("auditor", "audit.export_csv", {"username": "alice"}),
        ("auditor", "audit.export_xlsx", {"action": "auth."}),
    ]
    assert exports[0].source_addr == "127.0.0.1"
    assert service.verify(session=session).ok


def test_checkpoints_page_signs_and_verifies(app, session, people):
    _seed(session)
    client = signed_in(app, people["auditor"])
    assert client.post("/admin/audit/checkpoints", data={"ledger": "audit"}).status_code == 302
    page = client.get("/admin/audit/checkpoints").get_data(as_text=True)
    assert page.count("data-checkpoint-id=") == 1 and "有效" in page
    page = client.post("/admin/audit/checkpoints/verify", data={"ledger": "audit"}).get_data(as_text=True)
    assert 'data-verify-result="ok"' in page
    session.rollback()
    victim = session.scalars(sa.select(AuditRecord).filter_by(username="mallory")).one()
    tamper(session, "UPDATE audit_record SET username = 'nobody' WHERE id = :id", id=victim.id)
    session.commit()
    page = client.post("/admin/audit/checkpoints/verify", data={"ledger": "audit"}).get_data(as_text=True)
    assert 'data-verify-result="tampered"' in page and f"审计记录 #{victim.id}" in page
