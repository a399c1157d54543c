"""Quarterly and annual performance reports (绩效报告, issue 10 "Reports"): a region's figures
for a quarter or a year as a PDF and an XLSX (report_render.py), generated in the background,
archived in the file store and deposited in the evidence ledger, downloadable within the data
scope (report_views.py).

Flow: `request_report` writes a `kpi_report` row (queued) and an outbox job in the caller's
transaction; a second request for the same region and period while one is queued or running
gets that one. The job `kpi.report` runs in the jobs' phases (backend/jobs/runner.py): it marks
the row running and commits; reads the figures and renders both files with no write lock held
(a province takes seconds); then, in one transaction, stores the files, deposits their hashes
and marks the row done. Any failure marks it failed with a Chinese reason and archives nothing
(the files' rows and the deposits roll back together; an unreferenced blob may stay, harmless).

The figures are the cockpit's (service.py, evaluation.py), computed with a province-wide scope
bounded to the report's region: a report holds every project of its region, so only people whose
region covers it see it (`sees_region`); someone with no region of their own (own unit only)
sees none. At period end a scheduler tick (`schedule_period_end`) requests the top region's
report of the quarter (and in January the year) just ended, once. Keyword-only functions; nothing
here commits.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from backend import jobs
from backend.authz.scope import Scope, region_in
from backend.db import begin_unit_of_work, utcnow
from backend.kpi import evaluation, service
from backend.kpi.catalogue import BY_CODE
from backend.kpi.models import DONE, FAILED, OPEN_STATUSES, QUEUED, RUNNING, KpiReport
from backend.org.models import Region

log = logging.getLogger(__name__)

JOB = "kpi.report"
KINDS = ("year", "quarter")
# The whole province; a report's region bounds it (service._target), as the cockpit does.
EVERYTHING = Scope(all=True, regions=frozenset(), unit_id=None, username=None, whole_tree=True)
# The monthly trend charts (and the XLSX sheet 月度趋势).
TREND_CODES = ("investment_year", "disbursement", "approval_on_time", "warnings_red")
# The scheduler requests the period-end report on these first days after the period (Beijing).
PERIOD_END_DAYS = 7
QUARTER_NAMES = ("一", "二", "三", "四")


# --- reading the figures ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows, read once, rendered twice (PDF and XLSX)."""

    region_code: str
    region_name: str
    period: service.Period
    title: str
    generated_at: datetime  # UTC
    area: service.Area
    children: list[service.Area]
    trends: dict[str, list[tuple[str, service.Value]]]
    industries: list[tuple[str, dict[str, service.Value]]]
    departments: list[tuple[str, dict[str, service.Value]]]
    scheme_name: str
    ranking: list[tuple[int, evaluation.Scored]]  # scored projects only, best first


def period_title(period: service.Period) -> str:
    """ "2026年第三季度", "2026年度": the report's wording (the picker's label is "2026年第3季度")."""
    if period.kind == "quarter":
        return f"{period.start.year}年第{QUARTER_NAMES[(period.start.month - 1) // 3]}季度"
    return f"{period.start.year}年度"


def parse_report_period(text: str | None, *, today: date) -> service.Period:
    """A year or a quarter (KpiInputError otherwise, in Chinese)."""
    period = service.parse_period(text, today=today)
    if period.kind not in KINDS:
        raise service.KpiInputError("报告按季度或年度生成，请选择年或季度")
    return period


def collect(*, session, region_code: str, period_key: str, now: datetime | None = None) -> ReportData:
    """Read the report's figures (KpiInputError for an unknown region). `now` None in production."""
    today = (now or utcnow()).astimezone(service.SHANGHAI).date()
    period = parse_report_period(period_key, today=today)
    kw = {"session": session, "scope": EVERYTHING, "region": region_code, "period": period, "now": now}
    name = service.area_name(session=session, scope=EVERYTHING, region=region_code)
    area = service.overview(**kw)
    children = service.children(**kw)
    trends = {code: service.trend(code=code, **kw) for code in TREND_CODES if code in BY_CODE}
    industries = service.breakdown(by="industry", **kw)
    departments = service.breakdown(by="department", **kw)
    scheme = evaluation.scheme_for_period(session=session, period=period)  # as the evaluation page
    scored = evaluation.score_projects(scheme=scheme, **kw)
    ranking = [(rank, item) for rank, item in evaluation.ranked(scored) if item.score is not None]
    return ReportData(
        region_code=region_code,
        region_name=name,
        period=period,
        title=f"{name} {period_title(period)} 重点项目绩效报告",
        generated_at=now or utcnow(),
        area=area,
        children=children,
        trends=trends,
        industries=industries,
        departments=departments,
        scheme_name=scheme.name,
        ranking=ranking,
    )


# --- who sees a report --------------------------------------------------------------------------


def sees_region(*, session, scope: Scope, region_code: str) -> bool:
    """The scope sees every project of the region (a report shows them all)."""
    if not region_in(scope, region_code):
        return False
    try:
        service.area_name(session=session, scope=scope, region=region_code)
    except service.KpiInputError:
        return False
    return True


def top_region(*, session, scope: Scope) -> str | None:
    """The top of what the scope covers (the province for a province-wide scope)."""
    codes = list(session.scalars(sa.select(Region.code).order_by(Region.code)))
    parents = dict(session.execute(sa.select(Region.code, Region.parent_code)).all())
    covered = [c for c in codes if region_in(scope, c)]
    tops = [c for c in covered if parents.get(c) is None or not region_in(scope, parents[c])]
    return tops[0] if tops else None


def regions_for(*, session, scope: Scope) -> list[tuple[str, str, str]]:
    """(code, name, level) of the regions the scope may request a report of, by code."""
    rows = session.execute(sa.select(Region.code, Region.name, Region.level).order_by(Region.code)).all()
    return [tuple(r) for r in rows if region_in(scope, r[0])]


def visible_reports(*, session, scope: Scope, limit: int = 100) -> list[KpiReport]:
    """Newest first, the reports of regions the scope covers."""
    query = sa.select(KpiReport).order_by(KpiReport.id.desc()).limit(limit)
    if not (scope.all and scope.within is None):
        allowed = set(scope.within if scope.all else scope.regions)
        if scope.within is not None:
            allowed &= set(scope.within)
        if not allowed:
            return []
        query = query.where(KpiReport.region_code.in_(sorted(allowed)))
    return list(session.scalars(query))


def region_names(*, session) -> dict[str, str]:
    return dict(session.execute(sa.select(Region.code, Region.name)).all())


# --- requesting ---------------------------------------------------------------------------------


def request_report(
    *,
    session,
    region_code: str,
    period_key: str,
    requested_by: str | None,
    trigger: str = "manual",
    now: datetime | None = None,
) -> tuple[KpiReport, bool]:
    """(the report, True) once queued; (the queued or running one, False) for a duplicate.
    KpiInputError for a period that is not a year or a quarter. The region is the caller's to
    check (sees_region); an unknown one fails in the job with its reason."""
    now = now or utcnow()
    period = parse_report_period(period_key, today=now.astimezone(service.SHANGHAI).date())
    region_code = (region_code or "").strip()[:12]
    open_one = (
        sa.select(KpiReport)
        .where(
            KpiReport.region_code == region_code,
            KpiReport.period_key == period.key,
            KpiReport.status.in_(OPEN_STATUSES),
        )
        .order_by(KpiReport.id)
        .limit(1)
    )
    existing = session.scalar(open_one)
    if existing is not None:
        return existing, False
    report = KpiReport(
        region_code=region_code,
        period_key=period.key,
        status=QUEUED,
        trigger=trigger,
        requested_by=requested_by,
        requested_at=now,
    )
    try:
        with session.begin_nested():
            session.add(report)
            session.flush()
    except IntegrityError:
        # A request at the same instant queued it first (uq_kpi_report_open): join that one.
        return session.scalars(open_one).one(), False
    jobs.enqueue(
        session=session, actor=JOB, payload={"report_id": report.id}, idempotency_key=f"{JOB}:{report.id}"
    )
    return report, True


def just_ended(local_day: date) -> list[str]:
    """The period keys that ended at most PERIOD_END_DAYS days before `local_day` (Beijing)."""
    if local_day.month not in (1, 4, 7, 10) or local_day.day > PERIOD_END_DAYS:
        return []
    if local_day.month == 1:
        return [f"{local_day.year - 1}Q4", str(local_day.year - 1)]
    return [f"{local_day.year}Q{(local_day.month - 1) // 3}"]


_scheduled: set[tuple[str, str]] = set()  # requested by this process: no query on each tick


def schedule_period_end(*, session, now: datetime | None = None) -> list[KpiReport]:
    """Scheduler tick hook: on the first days after a quarter (a year) ends, request the top
    region's report of that period once (a scheduled report already there, in any state,
    stops it: a failed one is requested again by hand)."""
    now = now or utcnow()
    keys = just_ended(now.astimezone(service.SHANGHAI).date())
    if not keys:
        return []
    top = top_region(session=session, scope=EVERYTHING)
    if top is None:
        return []
    made = []
    for key in keys:
        if (top, key) in _scheduled:
            continue
        exists = session.scalar(
            sa.select(KpiReport.id).where(
                KpiReport.region_code == top, KpiReport.period_key == key, KpiReport.trigger == "scheduled"
            )
        )
        if exists is None:
            report, _ = request_report(
                session=session,
                region_code=top,
                period_key=key,
                requested_by=None,
                trigger="scheduled",
                now=now,
            )
            made.append(report)
        _scheduled.add((top, key))
    return made


# --- the job ------------------------------------------------------------------------------------


def _prepare(payload: dict):
    """Phase 1 (row locked): mark the report running; None when there is nothing to do."""
    from backend.extensions import db

    report = db.session.get(KpiReport, payload["report_id"])
    if report is None or report.status not in OPEN_STATUSES:
        return None
    report.status = RUNNING
    report.started_at = utcnow()
    report.error = None
    return {"report_id": report.id, "region_code": report.region_code, "period_key": report.period_key}


def _render(plan: dict) -> dict:
    """Phase 2 (no transaction kept): read the figures in a read transaction, render both files.
    Never raises: a failure is the report's outcome, recorded in phase 3."""
    from backend.extensions import db
    from backend.kpi import report_render

    started = time.perf_counter()
    begin_unit_of_work(read_only=True)  # reads only: SQLite's BEGIN, no write lock for seconds
    try:
        data = collect(session=db.session, region_code=plan["region_code"], period_key=plan["period_key"])
        pdf = report_render.pdf_bytes(data)
        xlsx = report_render.xlsx_bytes(data)
    except service.KpiInputError as exc:
        return {"error": f"生成失败：{exc}"}
    except Exception as exc:  # noqa: BLE001  (any failure is the report's, shown to its reader)
        log.exception("kpi.report_failed", extra={"report_id": plan["report_id"]})
        return {"error": f"生成失败：内部错误（{type(exc).__name__}），请联系运维人员"}
    finally:
        db.session.rollback()
        begin_unit_of_work(read_only=False)
    return {"data": data, "pdf": pdf, "xlsx": xlsx, "seconds": time.perf_counter() - started}


def _record(payload: dict, plan: dict, result: dict) -> None:
    """Phase 3 (row locked again): archive and deposit, or mark failed; all or nothing."""
    from backend.extensions import db

    session = db.session
    report = session.get(KpiReport, payload["report_id"])
    if report is None:
        return
    if "error" in result:
        _fail(report, result["error"])
        return
    try:
        with session.begin_nested():
            archive(
                session=session, report=report, data=result["data"], pdf=result["pdf"], xlsx=result["xlsx"]
            )
    except Exception as exc:  # noqa: BLE001
        log.exception("kpi.report_archive_failed", extra={"report_id": report.id})
        session.expire(report)
        _fail(
            report,
            f"归档失败：{exc}" if isinstance(exc, ValueError) else "归档失败：内部错误，请联系运维人员",
        )
        return
    report.seconds = round(result["seconds"], 3)


def _fail(report: KpiReport, error: str) -> None:
    report.status = FAILED
    report.error = error[:2000]
    report.finished_at = utcnow()


def archive(*, session, report: KpiReport, data: ReportData, pdf: bytes, xlsx: bytes) -> None:
    """Both files into the file store, their hashes into the evidence ledger, the row done."""
    from backend.evidence import service as evidence
    from backend.files import service as files
    from backend.files.sniff import PDF, XLSX

    stem = f"kpi-report-{report.id}-{data.region_code}-{data.period.key}"
    pdf_file = files.store(session=session, data=pdf, declared_name=f"{stem}.pdf", allowed_types={PDF})
    xlsx_file = files.store(session=session, data=xlsx, declared_name=f"{stem}.xlsx", allowed_types={XLSX})
    deposits = []
    for kind, stored, data_bytes, last in (("PDF", pdf_file, pdf, False), ("XLSX", xlsx_file, xlsx, True)):
        record, _ = evidence.deposit(
            session=session,
            project=None,
            region_code=data.region_code,
            document_type="other",
            data=data_bytes,
            title=f"{data.title}（{kind}）",
            depositor=report.requested_by,
            file_sha256=stored.sha256,
            source="kpi.report",
            source_ref=f"{data.region_code}:{data.period.key}",
            checkpoint=last,  # one signed checkpoint covers both
        )
        deposits.append(record)
    report.title = data.title
    report.pdf_sha256, report.xlsx_sha256 = pdf_file.sha256, xlsx_file.sha256
    report.pdf_evidence_id, report.xlsx_evidence_id = deposits[0].id, deposits[1].id
    report.status = DONE
    report.error = None
    report.finished_at = utcnow()


@jobs.job(JOB, max_retries=0, call_out=_render, record=_record)
def generate(payload: dict):
    return _prepare(payload)
