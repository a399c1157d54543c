"""The authorization matrix: every route of `app.url_map` (pages, actions, every /api/v1
operation) for anonymous and every built-in role, against the expectation declared here.

A route missing from EXPECTED fails the test: a new route must say who may use it. Pages are
requested with GET, actions with their real method and an empty (invalid) body. "Allowed" is
any answer but 401/403 and a redirect to the sign-in page (a 400/404/422 is allowed-but-
invalid: the request got past the access checks); "denied" is one of those.
"""

from urllib.parse import urlsplit

import pytest

from backend.authz.permissions import ADMIN_ROLES, BUSINESS_ROLES

from .conftest import anonymous

ANON = "anonymous"
ROLES = (*BUSINESS_ROLES, *ADMIN_ROLES)

# Who gets what (literal sets, so this table can be read without the grant tables).
OPEN = "open"  # no sign-in: the sign-in pages, public keys, health, assets, signed webhooks
SIGNED_IN = frozenset(ROLES)
BUSINESS = frozenset(BUSINESS_ROLES)
WORKERS = frozenset(  # task.work: claim, complete, return, transfer, sign ...
    {"owner", "window", "reviewer", "head", "finance", "expert", "inspector", "contractor", "supervisor"}
)
STARTERS = (WORKERS - {"expert"}) | {"operator"}  # process.start (operators: integration keys)
READERS = WORKERS | {"operator", "leader"}  # project.read
EVIDENCE_READERS = frozenset({"owner", "window", "reviewer", "head", "finance", "inspector", "auditadmin"})
EVIDENCE_DEPOSITORS = frozenset({"window", "head"})
FUNDS_READERS = frozenset({"owner", "head", "finance", "inspector", "leader"})  # funds.read
FUNDS_IMPORTERS = frozenset({"finance"})  # funds.import (the finance system's key owner)
FUNDS_PLANNERS = frozenset({"head", "finance"})  # funds.plan (年度计划投资)
HEADS = frozenset({"head"})
SITE_WORKERS = frozenset({"owner", "contractor", "supervisor"})  # site.checkin
SITE_INSPECTORS = frozenset({"head", "inspector", "supervisor"})  # site.inspect
SITE_PEOPLE = SITE_WORKERS | SITE_INSPECTORS
PUBLISHERS = frozenset({"owner", "window"})  # publication.manage
EXPORTERS = frozenset({"window", "reviewer", "head", "finance", "inspector"})  # export.data
OWNERS = frozenset({"owner"})
OPERATORS = frozenset({"operator"})
DESIGNERS = frozenset({"designer"})
SYSADMIN = frozenset({"sysadmin"})
SECADMIN = frozenset({"secadmin"})
AUDITADMIN = frozenset({"auditadmin"})
RISK_VIEWERS = frozenset({"reviewer", "head", "finance", "inspector", "operator", "leader"})  # risk.view
RISK_MANAGERS = frozenset({"head", "operator"})  # risk.manage (thresholds, retraining)
KPI_VIEWERS = frozenset({"reviewer", "head", "finance", "inspector", "operator", "leader"})  # kpi.view
KPI_MANAGERS = frozenset({"head", "operator"})  # kpi.manage (evaluation scheme)
ACCEPTERS = frozenset({"reviewer", "head"})  # project.accept (竣工验收; then 发改 staff in scope)

EXPECTED: dict[str, object] = {
    # --- sign-in, account, language, assets, health -------------------------------------------
    "GET /login": OPEN,
    "POST /login": OPEN,
    "GET /login/verify": OPEN,
    "POST /login/verify": OPEN,
    "POST /logout": OPEN,  # signs out whoever asks, then the sign-in page
    "GET /": SIGNED_IN,
    "GET /account": SIGNED_IN,
    "GET /account/2fa": SIGNED_IN,
    "POST /account/2fa": SIGNED_IN,
    "POST /account/2fa/disable": SIGNED_IN,
    "POST /account/2fa/recovery-codes": SIGNED_IN,
    "GET /password": SIGNED_IN,
    "POST /password": SIGNED_IN,
    "GET /lang/<code>": OPEN,
    "GET /static/<path:filename>": OPEN,
    "GET /vendor/<path:path>": OPEN,
    "GET /healthz": OPEN,
    "GET /metrics": OPEN,  # a token or a local caller (tests/metrics), not a person
    "GET /crypto/public-keys": OPEN,
    "GET /crypto/public-keys.json": OPEN,
    "GET /people/search": SIGNED_IN,
    # --- system admin: accounts, configuration ---------------------------------------------------
    "GET /admin/users": SYSADMIN,
    "GET /admin/users/new": SYSADMIN,
    "POST /admin/users/new": SYSADMIN,
    "POST /admin/users/<int:user_id>/disable": SYSADMIN,
    "POST /admin/users/<int:user_id>/enable": SYSADMIN,
    "POST /admin/users/<int:user_id>/reset-password": SYSADMIN,
    "POST /admin/users/<int:user_id>/reset-2fa": SYSADMIN,
    "POST /admin/users/<int:user_id>/unlock": SYSADMIN,
    "GET /admin/api-keys": SYSADMIN,
    "POST /admin/api-keys": SYSADMIN,
    "POST /admin/api-keys/<int:key_id>/revoke": SYSADMIN,
    "GET /admin/webhooks": SYSADMIN,
    "GET /admin/webhooks/deliveries/<int:delivery_id>": SYSADMIN,
    "POST /admin/webhooks/deliveries/<int:delivery_id>/redeliver": SYSADMIN,
    "GET /admin/webhooks/hooks/new": SYSADMIN,
    "POST /admin/webhooks/hooks/new": SYSADMIN,
    "GET /admin/webhooks/hooks/<int:hook_id>": SYSADMIN,
    "POST /admin/webhooks/hooks/<int:hook_id>": SYSADMIN,
    "POST /admin/webhooks/hooks/<int:hook_id>/rotate": SYSADMIN,
    "GET /admin/webhooks/subscriptions/new": SYSADMIN,
    "POST /admin/webhooks/subscriptions/new": SYSADMIN,
    "GET /admin/webhooks/subscriptions/<int:subscription_id>": SYSADMIN,
    "POST /admin/webhooks/subscriptions/<int:subscription_id>": SYSADMIN,
    "POST /admin/webhooks/subscriptions/<int:subscription_id>/rotate": SYSADMIN,
    # --- security admin: roles and permissions ---------------------------------------------------
    "GET /admin/roles": SECADMIN,
    "POST /admin/roles/new": SECADMIN,
    "POST /admin/roles/<code>": SECADMIN,
    "POST /admin/roles/users/<int:user_id>": SECADMIN,
    # --- audit admin: the audit log --------------------------------------------------------------
    "GET /admin/audit": AUDITADMIN,
    "GET /admin/audit/export.csv": AUDITADMIN,
    "GET /admin/audit/export.xlsx": AUDITADMIN,
    "GET /admin/audit/checkpoints": AUDITADMIN,
    "POST /admin/audit/checkpoints": AUDITADMIN,
    "POST /admin/audit/checkpoints/verify": AUDITADMIN,
    # --- business: inbox, tasks, applications, signing -------------------------------------------
    "GET /inbox": SIGNED_IN,  # one's own desk (empty for an admin)
    "GET /notifications": SIGNED_IN,
    "POST /notifications/read": SIGNED_IN,  # one's own notifications only
    "GET /tasks/<task_id>": SIGNED_IN,  # then the task's own rule (404/403 per task)
    "POST /tasks/<task_id>": WORKERS,
    "POST /tasks/<task_id>/claim": WORKERS,
    "POST /tasks/<task_id>/unclaim": WORKERS,
    "POST /tasks/<task_id>/return": WORKERS,
    "POST /tasks/<task_id>/withdraw": WORKERS,
    "POST /tasks/<task_id>/transfer": WORKERS,
    "POST /tasks/<task_id>/delegate": WORKERS,
    "POST /tasks/<task_id>/answer": WORKERS,
    "POST /tasks/<task_id>/cc": WORKERS,
    "POST /tasks/<task_id>/urge": WORKERS,
    "POST /tasks/<task_id>/add-sign": WORKERS,
    "POST /tasks/<task_id>/signers/<signer_task_id>/remove": WORKERS,
    "GET /applications": SIGNED_IN,  # one's own applications
    "GET /applications/export.csv": EXPORTERS,  # the list the person sees (data scope)
    "GET /applications/export.xlsx": EXPORTERS,
    "GET /applications/<code>": SIGNED_IN,  # then the project's scope (tests/authz/test_scope.py)
    "GET /applications/new": OWNERS,
    "POST /applications/new": OWNERS,
    "GET /sign": HEADS,
    "POST /sign": HEADS,
    "GET /files/<sha256>": SIGNED_IN,  # then files/access.py per file
    "GET /ocr/extractions/<int:extraction_id>": SIGNED_IN,  # then who may read the file (404)
    "POST /ocr/extractions/<int:extraction_id>/retry": SIGNED_IN,  # then who may read the file (404)
    "GET /esign/<int:signature_id>.json": SIGNED_IN,  # then the project's rule
    "GET /esign/documents/<int:document_id>": SIGNED_IN,
    # --- evidence ledger (存证) -------------------------------------------------------------------
    "GET /evidence": EVIDENCE_READERS,
    "GET /evidence/<int:record_id>": EVIDENCE_READERS,
    "GET /evidence/<int:record_id>/document": EVIDENCE_READERS,
    "GET /evidence/<int:record_id>/proof.json": EVIDENCE_READERS,
    "GET /evidence/verify": EVIDENCE_READERS,
    "POST /evidence/verify": EVIDENCE_READERS,
    "GET /evidence/verifier.py": OPEN,  # the standalone verifier: stdlib code, no data
    "GET /evidence/deposit": EVIDENCE_DEPOSITORS,
    "POST /evidence/deposit": EVIDENCE_DEPOSITORS,
    "POST /evidence/checkpoint": EVIDENCE_DEPOSITORS,
    # --- funds ledger (资金) -----------------------------------------------------------------------
    "GET /projects/<code>/funds": FUNDS_READERS,
    "POST /projects/<code>/funds/reports": OWNERS,  # funds.report; then the owner unit only
    "POST /projects/<code>/funds/lines": FUNDS_PLANNERS,  # funds.plan; then the project's scope (404)
    "POST /projects/<code>/funds/lines/<int:line_id>": FUNDS_PLANNERS,
    "POST /projects/<code>/funds/lines/<int:line_id>/delete": FUNDS_PLANNERS,
    # --- projects: the list and the hub ------------------------------------------------------------
    "GET /projects": READERS,  # project.read; the list is the person's data scope
    "GET /projects/<code>": READERS,  # then the project's scope (404)
    # 开工申报: project.apply; then the project's owner unit only (403)
    "GET /projects/<code>/start": OWNERS,
    "POST /projects/<code>/start": OWNERS,
    "GET /projects/<code>/acceptance": READERS,  # the record; the form for accepters only
    "POST /projects/<code>/acceptance": ACCEPTERS,  # then 发改 department and the scope (403/404)
    # --- schedule (进度与任务分解) ------------------------------------------------------------------
    "GET /projects/<code>/schedule": READERS,  # project.read; then the project's scope (404)
    "GET /projects/<code>/schedule.xlsx": READERS,
    "POST /projects/<code>/schedule/import": OWNERS,  # schedule.edit; then the owner unit only
    "GET /projects/<code>/wbs/<item_code>/progress": READERS,  # then schedule/access.py (404)
    "POST /projects/<code>/wbs/<item_code>/progress": READERS,  # then the item's reporters (403)
    "GET /schedule/mine": READERS,
    "GET /projects/<code>/schedule/gantt.json": READERS,
    "GET /projects/<code>/schedule/baselines": READERS,
    "POST /projects/<code>/schedule/baselines": OWNERS,  # schedule.edit; then the owner unit only
    "GET /projects/<code>/schedule/items/new": OWNERS,
    "POST /projects/<code>/schedule/items/new": OWNERS,
    "GET /projects/<code>/schedule/items/<int:item_id>/edit": OWNERS,
    "POST /projects/<code>/schedule/items/<int:item_id>/edit": OWNERS,
    "POST /projects/<code>/schedule/items/<int:item_id>/dates": OWNERS,
    "POST /projects/<code>/schedule/items/<int:item_id>/delete": OWNERS,
    "POST /projects/<code>/schedule/items/<int:item_id>/dependencies": OWNERS,
    "POST /projects/<code>/schedule/items/<int:item_id>/dependencies/<int:predecessor_id>/delete": OWNERS,
    # --- public progress page (项目进度查询): no sign-in; then published projects only (404) ---------
    "GET /p/<code>": OPEN,
    "GET /p/<code>/qr.svg": OPEN,
    "GET /p/<code>/qr.png": OPEN,
    "GET /p/<code>/photos/<sha256>.jpg": OPEN,
    "GET /p/<code>/feedback": OPEN,
    "POST /p/<code>/feedback": OPEN,  # CSRF, honeypot and a per-address rate limit
    "GET /p/<code>/feedback/thanks": OPEN,
    "GET /projects/<code>/publication": PUBLISHERS,  # then the project's scope (404)
    "POST /projects/<code>/publication/switch": PUBLISHERS,
    "POST /projects/<code>/publication/photos": PUBLISHERS,
    "POST /projects/<code>/publication/photos/<int:photo_id>": PUBLISHERS,
    "GET /projects/<code>/publication/photos/<int:photo_id>.jpg": PUBLISHERS,
    "POST /projects/<code>/publication/feedback/<int:feedback_id>": PUBLISHERS,
    "GET /projects/<code>/publication/board": PUBLISHERS,
    "POST /projects/<code>/publication/site-photos": PUBLISHERS,
    "GET /projects/<code>/publication/site-photos/<int:photo_id>.jpg": PUBLISHERS,
    # --- site check-ins and daily logs (现场打卡与施工日志): then site_project_or_404 -----------------
    "GET /site": SITE_PEOPLE,  # site.checkin or site.inspect
    "GET /site/feed": SITE_INSPECTORS,
    "GET /site/photos/<int:photo_id>": SITE_PEOPLE,
    "GET /site/photos/<int:photo_id>/thumb": SITE_PEOPLE,
    "GET /projects/<code>/site": SITE_PEOPLE,
    "POST /projects/<code>/site/requests": SITE_PEOPLE,  # then managers of the project only
    "GET /projects/<code>/site/checkin": SITE_WORKERS,
    "POST /projects/<code>/site/checkin": SITE_WORKERS,
    "GET /projects/<code>/site/log": SITE_PEOPLE,
    "POST /projects/<code>/site/log": SITE_PEOPLE,  # then today's author only
    "GET /projects/<code>/site/location": OWNERS,  # schedule.edit; then the owner unit only
    "POST /projects/<code>/site/location": OWNERS,
    # --- risk early warning (风险预警): then the project's scope (404) ------------------------------
    "GET /projects/<code>/risk": RISK_VIEWERS,
    "GET /risk": RISK_VIEWERS,  # the live warnings of the person's scope
    "GET /risk/export.csv": RISK_VIEWERS & EXPORTERS,  # risk.view and export.data
    "GET /risk/settings": RISK_MANAGERS,
    "POST /risk/settings": RISK_MANAGERS,
    "GET /risk/model": RISK_VIEWERS,
    "POST /risk/model/retrain": RISK_MANAGERS,
    # --- leadership cockpit (领导驾驶舱): then the data scope (400 outside it) --------------------
    "GET /leader/": KPI_VIEWERS,
    "GET /leader/screen": KPI_VIEWERS,
    "GET /leader/catalogue": KPI_VIEWERS,
    "GET /leader/trace": KPI_VIEWERS,
    "GET /leader/api/overview": KPI_VIEWERS,
    "GET /leader/api/trend": KPI_VIEWERS,
    "GET /leader/api/breakdown": KPI_VIEWERS,
    "GET /leader/evaluation": KPI_VIEWERS,
    "GET /leader/evaluation/item": KPI_VIEWERS,  # 400 without an id, after the permission
    "GET /leader/evaluation/export.csv": KPI_VIEWERS & EXPORTERS,  # kpi.view and export.data
    "GET /leader/evaluation/export.xlsx": KPI_VIEWERS & EXPORTERS,
    "GET /leader/evaluation/scheme": KPI_VIEWERS,
    "POST /leader/evaluation/scheme": KPI_MANAGERS,
    "GET /leader/reports": KPI_VIEWERS,
    "POST /leader/reports": KPI_VIEWERS,  # requesting a report: what the cockpit shows, as PDF/XLSX
    "GET /leader/reports/<int:report_id>/<kind>": KPI_VIEWERS,  # 404: no such report
    # --- operations (运维监控台) ------------------------------------------------------------------
    "GET /cockpit/instances": OPERATORS,
    "GET /cockpit/instances/<int:instance_id>": OPERATORS,
    "POST /cockpit/instances/<int:instance_id>/cancel": OPERATORS,
    "POST /cockpit/instances/<int:instance_id>/incidents/<int:incident_id>/retry": OPERATORS,
    "POST /cockpit/instances/<int:instance_id>/resume": OPERATORS,
    "POST /cockpit/instances/<int:instance_id>/suspend": OPERATORS,
    "POST /cockpit/instances/<int:instance_id>/variables": OPERATORS,
    "GET /cockpit/migrate": OPERATORS,
    "POST /cockpit/migrate": OPERATORS,
    # --- design: processes and forms -------------------------------------------------------------
    "GET /designer": DESIGNERS,
    "GET /designer/new": DESIGNERS,
    "GET /designer/processes/<key>": DESIGNERS,
    "GET /designer/processes/<key>/versions/<int:version>.bpmn": DESIGNERS,
    "GET /designer/forms": DESIGNERS,
    "GET /designer/forms/new": DESIGNERS,
    "GET /designer/forms/<name>": DESIGNERS,
    "GET /designer/forms/<name>/versions/<int:version>.json": DESIGNERS,
    "GET /designer/api/forms": DESIGNERS,
    "GET /designer/api/forms/<name>": DESIGNERS,
    "PUT /designer/api/forms/<name>": DESIGNERS,
    "POST /designer/api/forms/<name>/redeploy": DESIGNERS,
    "GET /designer/api/forms/<name>/versions/<int:version>": DESIGNERS,
    "POST /designer/api/forms/preview": DESIGNERS,
    "POST /designer/api/forms/preview/validate": DESIGNERS,
    "GET /designer/api/groups": DESIGNERS,
    "POST /designer/api/import": DESIGNERS,
    "GET /designer/api/operations": DESIGNERS,
    "GET /designer/api/processes": DESIGNERS,
    "POST /designer/api/processes/<key>/deploy": DESIGNERS,
    "GET /designer/api/processes/<key>/diff": DESIGNERS,
    "PUT /designer/api/processes/<key>/draft": DESIGNERS,
    "POST /designer/api/processes/<key>/rollback": DESIGNERS,
    "GET /designer/api/processes/<key>/versions": DESIGNERS,
    "GET /designer/api/processes/<key>/xml": DESIGNERS,
    "POST /designer/api/validate": DESIGNERS,
    # --- REST API (/api/v1), with the browser session --------------------------------------------
    "GET /api/v1/openapi.json": OPEN,
    "GET /api/v1/docs": OPEN,
    "POST /api/v1/hooks/<name>": OPEN,  # HMAC-signed by the caller (tests/webhooks)
    "GET /api/v1/process-definitions": SIGNED_IN,
    "GET /api/v1/tasks": SIGNED_IN,  # one's own inbox
    "POST /api/v1/tasks/<task_id>/claim": WORKERS,
    "POST /api/v1/tasks/<task_id>/complete": WORKERS,
    "POST /api/v1/instances": STARTERS,
    "POST /api/v1/messages": STARTERS,
    "GET /api/v1/instances": READERS,
    "GET /api/v1/instances/<int:instance_id>": READERS,
    "GET /api/v1/projects": READERS,
    "GET /api/v1/projects/<code>": READERS,
    "GET /api/v1/contracts": READERS,
    "GET /api/v1/payments": READERS,
    "GET /api/v1/tickets": READERS,
    "POST /api/v1/projects/<code>/allocations": FUNDS_IMPORTERS,
    "GET /api/v1/projects/<code>/allocations": FUNDS_READERS,
    "GET /api/v1/projects/<code>/funds": FUNDS_READERS,
    "GET /api/v1/projects/<code>/wbs": READERS,
    "GET /api/v1/projects/<code>/wbs/<item_code>/progress": READERS,
    "POST /api/v1/projects/<code>/wbs/<item_code>/progress": OWNERS,  # schedule.edit; then reporters
}

# Values for the path variables: nothing that exists (the access checks come first).
SAMPLE = {
    "code": "zh",
    "path": "bootstrap/bootstrap.min.css",
    "filename": "app.css",
    "sha256": "0" * 64,
}


def routes(app) -> dict[str, tuple[str, str]]:
    """ "METHOD rule" → (method, a concrete URL)."""
    found = {}
    for rule in app.url_map.iter_rules():
        values = {}
        for name in rule.arguments:
            converter = type(rule._converters[name]).__name__
            values[name] = 999999 if converter == "IntegerConverter" else SAMPLE.get(name, "x")
        url = app.url_map.bind("localhost").build(rule.endpoint, values, append_unknown=False)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found[f"{method} {rule.rule}"] = (method, url)
    return found


def test_every_route_is_declared(app):
    declared, present = set(EXPECTED), set(routes(app))
    assert sorted(present - declared) == [], "routes with no expectation: declare who may use them"
    assert sorted(declared - present) == [], "expectations of routes that no longer exist"


def _denied(response) -> bool:
    if response.status_code in (401, 403):
        return True
    if response.status_code in (301, 302, 303, 307, 308):
        return urlsplit(response.headers.get("Location", "")).path == "/login"
    return False


def _request(client, method: str, url: str):
    if method == "GET":
        return client.get(url)
    if "/api/" in url:
        return client.open(url, method=method, json={})
    return client.open(url, method=method, data={})


@pytest.mark.parametrize("who", [ANON, *ROLES])
def test_matrix(app, world, who):
    wrong = []
    for key, (method, url) in sorted(routes(app).items()):
        expected = EXPECTED.get(key)
        if expected is None:
            continue  # test_every_route_is_declared names it
        client = anonymous(app) if who == ANON else world.client(app, who)
        response = _request(client, method, url)
        denied = _denied(response)
        if expected == OPEN:
            # No access check stands in the way (a wrong password's 401 is the sign-in's answer).
            if response.status_code == 403:
                wrong.append(f"{key}: {response.status_code}, expected open")
            continue
        allowed = who in expected
        if allowed == denied:
            wrong.append(
                f"{key}: {response.status_code} {'denied' if denied else 'allowed'}, expected "
                f"{'allowed' if allowed else 'denied'}"
            )
    assert wrong == [], f"{who}:\n" + "\n".join(wrong)
