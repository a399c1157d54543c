"""The rules of OCR in the application flow (issue 11): which uploads are read, who may see
what was read, how found fields become form values, and the corrections kept on submit.

Reading itself is backend/ocr/reader.py and fields.py; the background job is jobs.py. Plain
keyword-only functions over the session; none commits.
"""

from __future__ import annotations

import calendar
import json
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import sqlalchemy as sa
from flask_babel import gettext
from sqlalchemy.exc import IntegrityError

from backend import jobs
from backend.files import access as file_access
from backend.forms.schema import options_of, resolve
from backend.ocr.models import DONE, FAILED, QUEUED, DocumentExtraction, ExtractionCorrection
from backend.ocr.reader import MESSAGES as READER_MESSAGES
from backend.ocr.reader import N_

JOB = "ocr.extract"
# The job's own failures (the reader's are reader.MESSAGES); message ids, shown translated.
INTERNAL_ERROR = N_("识别文件时出错, 请手工填写")
MISSING_ERROR = N_("文件已不在存储中, 无法识别")
# Failures whose cause may pass ("重新识别" is offered): a bug fixed, a busy machine, a file
# restored. The others (encrypted, corrupt, too many pages...) would give the same answer.
RETRYABLE = ("internal", "timeout", "missing")
# The application's documents worth reading; "other" material is not.
KINDS = ("preliminary_design", "feasibility", "proposal")  # also the order of precedence
PREFILLED_INPUT = "_ocr_prefilled"  # hidden input: {form field: extraction id}, carried across posts
# Form fields, in the form's order, and the extracted fields they come from.
FORM_FIELDS = (
    "project_name",
    "project_code",
    "owner_unit_id",
    "region_code",
    "total_investment",
    "funding_sources",
    "planned_start",
    "planned_end",
    "scale_content",
)
_CENT = Decimal("0.01")
_WAN = Decimal(10000)


# --- requesting and reading ------------------------------------------------------------------


def documents_to_read(data: dict, *, skip=frozenset()) -> list[dict]:
    """The proposal / feasibility / preliminary design files the form data refers to, but
    those in `skip` (补正/修改: the files of the application as last submitted)."""
    out = []
    for doc in data.get("documents") or []:
        if (
            isinstance(doc, dict)
            and doc.get("kind") in KINDS
            and file_access.is_sha256(doc.get("sha256"))
            and doc["sha256"] not in skip
        ):
            out.append(doc)
    return out


def submitted_files(data: dict | None) -> frozenset[str]:
    """The readable documents of an application as submitted (their values are the form's
    already): a 补正/修改 form offers reading only for the files added since."""
    return frozenset(d["sha256"] for d in documents_to_read(data or {}))


def request_extractions(*, session, user, data: dict, skip=frozenset()) -> list[DocumentExtraction]:
    """Ask for every readable document of the form to be read (once per file, whoever asks)."""
    docs = documents_to_read(data, skip=skip)
    allowed = file_access.readable(session=session, user=user, hashes=[d["sha256"] for d in docs])
    return [
        request_extraction(
            session=session,
            sha256=d["sha256"],
            kind=d["kind"],
            name=d.get("name"),
            requested_by=user.username,
        )
        for d in docs
        if d["sha256"] in allowed
    ]


def request_extraction(
    *, session, sha256: str, kind: str, name: str | None, requested_by: str
) -> DocumentExtraction:
    """The extraction of this file: the existing one, or a new queued one with its job."""
    existing = session.scalar(sa.select(DocumentExtraction).where(DocumentExtraction.file_sha256 == sha256))
    if existing is not None:
        return existing
    row = DocumentExtraction(
        file_sha256=sha256,
        kind=kind,
        file_name=(name or "")[:255] or None,
        requested_by=requested_by,
        state=QUEUED,
    )
    try:
        # The same file uploaded at the same moment by someone else: their row is as good.
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return session.scalar(
            sa.select(DocumentExtraction)
            .where(DocumentExtraction.file_sha256 == sha256)
            .execution_options(populate_existing=True)
        )
    jobs.enqueue(
        session=session, actor=JOB, payload={"extraction_id": row.id}, idempotency_key=f"{JOB}:{sha256}"
    )
    return row


def readable_extraction(*, session, user, extraction_id: int) -> DocumentExtraction | None:
    """The extraction if `user` may read its file (the uploader, or whoever sees a process
    that references it, see backend/files/access.py); None otherwise, as if it did not exist."""
    row = session.get(DocumentExtraction, extraction_id)
    if row is None or not file_access.may_read(session=session, user=user, sha256=row.file_sha256):
        return None
    return row


def extractions_for(*, session, user, data: dict, skip=frozenset()) -> list[DocumentExtraction]:
    """The extractions of the form's documents that `user` may read, in precedence order."""
    hashes = {d["sha256"] for d in documents_to_read(data, skip=skip)}
    if not hashes:
        return []
    allowed = file_access.readable(session=session, user=user, hashes=hashes)
    rows = session.scalars(sa.select(DocumentExtraction).where(DocumentExtraction.file_sha256.in_(allowed)))
    return sorted(rows, key=lambda r: (KINDS.index(r.kind) if r.kind in KINDS else len(KINDS), r.id))


def status(row: DocumentExtraction) -> dict:
    """What the polling page needs (JSON-safe), messages in the viewer's language. `notice`:
    a done extraction that read only the first pages (a timeout) says so."""
    notice = None
    if row.state == DONE and row.error_code == "timeout":
        notice = gettext(
            "只识别了前 %(done)s/%(total)s 页，其余页请核对",
            done=row.pages_done or 0,
            total=row.pages_total or row.pages_done or 0,
        )
    return {
        "id": row.id,
        "state": row.state,
        "kind": row.kind,
        "name": row.file_name,
        "pages_done": row.pages_done or 0,
        "pages_total": row.pages_total,
        "error_code": row.error_code,
        "error": error_message(row),
        "notice": notice,
        "retryable": retryable(row),
        "attempts": row.attempts or 1,
        "found": sorted((row.result or {}).keys()) if row.state == DONE else [],
        "seconds": str(row.seconds) if row.seconds is not None else None,
    }


def error_message(row: DocumentExtraction) -> str | None:
    """The stored (Chinese) message in the viewer's language: its message id is known from
    the code, its placeholders from `error_values`. A message stored under another wording
    (older rows, a changed text) is shown as stored."""
    messages = {**READER_MESSAGES, "internal": INTERNAL_ERROR, "missing": MISSING_ERROR}
    msgid = messages.get(row.error_code or "")
    if msgid is None or row.error is None:
        return row.error
    values = row.error_values if isinstance(row.error_values, dict) else {}
    try:
        if msgid.format(**values) != row.error:
            return row.error
        return gettext(msgid).format(**values)
    except (KeyError, IndexError, ValueError):  # a translation with other placeholders
        return row.error


# --- reading again ---------------------------------------------------------------------------


class NotRetryable(ValueError):
    """This extraction cannot be read again now; str(e) says why (for the applicant)."""


def retryable(row: DocumentExtraction) -> bool:
    """Failed for a cause that may pass, or done with only the first pages (a timeout)."""
    if row.error_code not in RETRYABLE:
        return False
    return row.state == FAILED or (row.state == DONE and row.error_code == "timeout")


def retry_extraction(*, session, row: DocumentExtraction) -> DocumentExtraction:
    """Queue the reading again: the row back to 'queued' (its result and error cleared), one
    more attempt, a job under that attempt's key. Compare-and-set on the state and the attempt
    count, so two clicks at once queue one job; the second raises NotRetryable."""
    if not retryable(row):
        if row.state not in (DONE, FAILED):
            raise NotRetryable(gettext("该文件正在识别中，无需重新识别"))
        raise NotRetryable(gettext("重新识别不会改变该文件的识别结果，请手工填写"))
    attempt = (row.attempts or 1) + 1
    changed = session.execute(
        sa.update(DocumentExtraction)
        .where(
            DocumentExtraction.id == row.id,
            DocumentExtraction.state == row.state,
            DocumentExtraction.attempts == row.attempts,
        )
        .values(
            state=QUEUED,
            attempts=attempt,
            pages_done=0,
            pages_total=None,
            error_code=None,
            error=None,
            error_values=None,
            result=None,
            method=None,
            seconds=None,
            finished_at=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:  # someone else asked first: their job reads it
        raise NotRetryable(gettext("该文件正在识别中，无需重新识别"))
    jobs.enqueue(
        session=session,
        actor=JOB,
        payload={"extraction_id": row.id, "attempt": attempt},
        idempotency_key=f"{JOB}:{row.file_sha256}:{attempt}",
    )
    session.refresh(row)
    return row


# --- found fields → form values --------------------------------------------------------------


def unit_factor(node: dict | None) -> Decimal:
    """10000 when the form asks for 万元 (its title or description says so), else 1 (元)."""
    text = f"{(node or {}).get('title', '')}"
    return _WAN if "万元" in text else Decimal(1)


def yuan_to_form(amount, node: dict | None) -> str | None:
    """Decimal yuan as the form's amount text, exactly: 万元 keep up to 6 places (1 yuan =
    0.0001 万元), yuan 2 places. None when not a number."""
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite():
        return None
    factor = unit_factor(node)
    if factor == 1:
        return str(value.quantize(_CENT, rounding=ROUND_HALF_UP))
    text = format((value / factor).normalize(), "f")
    return text


def _month_day(month: str, *, last: bool) -> str | None:
    match = re.fullmatch(r"(\d{4})-(\d{2})", str(month or ""))
    if not match:
        return None
    year, mon = int(match[1]), int(match[2])
    if not 1 <= mon <= 12:
        return None
    day = calendar.monthrange(year, mon)[1] if last else 1
    return f"{year:04d}-{mon:02d}-{day:02d}"


def _add_months(month: str, months: int) -> str | None:
    """ "2025-03" + 24 months of construction → "2027-02" (the last month of the period)."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", str(month or ""))
    if not match or not isinstance(months, int) or months < 1:
        return None
    index = int(match[1]) * 12 + int(match[2]) - 1 + months - 1
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _best_option(options, text: str):
    """The option whose label is the text (ignoring spaces), or contained in it (longest first)."""
    wanted = re.sub(r"\s+", "", str(text or ""))
    if not wanted or not options:
        return None
    for value, label in options:
        if re.sub(r"\s+", "", label) == wanted:
            return value
    inside = [(len(label), value) for value, label in options if label and label in wanted]
    return max(inside)[1] if inside else None


def _region_code(session, location: str) -> str | None:
    """The deepest division named in the location text ("浙江省杭州市西湖区…" → 330106)."""
    from backend.org.models import Region

    text = re.sub(r"\s+", "", str(location or ""))
    if not text or session is None:
        return None
    regions = session.execute(sa.select(Region.code, Region.name, Region.level, Region.parent_code)).all()
    names = {code: name for code, name, _, _ in regions}
    depth = {"province": 1, "city": 2, "county": 3}
    best = None
    for code, name, level, parent in regions:
        if not name or name not in text:
            continue
        # A county's name may recur in other provinces: its parent must be named too, if any is.
        parent_named = parent is None or names.get(parent, "") in text
        key = (parent_named, depth.get(level, 0), len(name))
        if best is None or key > best[0]:
            best = (key, code)
    return best[1] if best else None


def form_values(*, session, schema: dict, result: dict) -> dict[str, tuple[object, dict]]:
    """{form field: (value as the form takes it, the found field's {snippet, page, confidence})}
    for the fields found in one extraction's result."""
    props = resolve(schema, schema).get("properties", {})
    out: dict[str, tuple[object, dict]] = {}

    def found(name):
        item = (result or {}).get(name)
        return item if isinstance(item, dict) and item.get("value") not in (None, "", []) else None

    def put(field, value, item):
        if field in props and value not in (None, "", []):
            out[field] = (value, {k: item.get(k) for k in ("snippet", "page", "confidence")})

    for name in ("project_name", "project_code", "scale_content"):
        if item := found(name):
            put(name, str(item["value"]).strip(), item)
    if item := found("owner_unit"):
        put("owner_unit_id", _best_option(options_of(props.get("owner_unit_id", {})), item["value"]), item)
    if item := found("location"):
        put("region_code", _region_code(session, item["value"]), item)
    if item := found("total_investment_yuan"):
        put("total_investment", yuan_to_form(item["value"], props.get("total_investment")), item)
    if item := found("funding_sources"):
        amount_node = resolve(schema, props.get("funding_sources", {}).get("items", {})).get("properties", {})
        rows = []
        for source in item["value"] if isinstance(item["value"], list) else []:
            amount = yuan_to_form((source or {}).get("amount"), amount_node.get("amount"))
            if (source or {}).get("source") and amount is not None:
                rows.append({"source": str(source["source"]).strip(), "amount": amount})
        put("funding_sources", rows, item)
    start = found("planned_start")
    if start:
        put("planned_start", _month_day(start["value"], last=False), start)
    if item := found("planned_end"):
        put("planned_end", _month_day(item["value"], last=True), item)
    elif start and (period := found("construction_period")):
        put("planned_end", _month_day(_add_months(start["value"], period["value"]), last=True), period)
    return out


def _empty(value) -> bool:
    if value in (None, "", [], {}):
        return True
    if isinstance(value, list):  # rows left blank (the form shows one empty row)
        return all(_empty(v) for v in value)
    if isinstance(value, dict):
        return all(_empty(v) for v in value.values())
    return False


def fill(
    *, session, schema: dict, data: dict, extractions: list[DocumentExtraction], overwrite: bool = False
) -> dict[str, int]:
    """Put the found values into `data` (in place): empty fields only, unless `overwrite` (the
    applicant confirmed). Earlier extractions in the list take precedence. Returns
    {form field: extraction id} of the fields filled."""
    filled: dict[str, int] = {}
    for row in extractions:
        if row.state != DONE:
            continue
        for field, (value, _) in form_values(session=session, schema=schema, result=row.result or {}).items():
            if field in filled or (not overwrite and not _empty(data.get(field))):
                continue
            data[field] = value
            filled[field] = row.id
    return filled


def marks(*, session, schema: dict, prefilled: dict[str, int], extractions: list[DocumentExtraction]) -> dict:
    """{form field: {snippet, page, name}} of the prefilled fields, for the "来自文件" marks."""
    by_id = {row.id: row for row in extractions}
    out = {}
    for field in sorted(
        prefilled, key=lambda f: FORM_FIELDS.index(f) if f in FORM_FIELDS else len(FORM_FIELDS)
    ):
        row = by_id.get(prefilled[field])
        if row is None or row.state != DONE:
            continue
        values = form_values(session=session, schema=schema, result=row.result or {})
        if field in values:
            out[field] = {**values[field][1], "name": row.file_name, "kind": row.kind}
    return out


def parse_prefilled(raw: str | None) -> dict[str, int]:
    """The hidden input's {form field: extraction id}; anything malformed is dropped."""
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {
        k: v
        for k, v in value.items()
        if k in FORM_FIELDS and isinstance(v, int) and not isinstance(v, bool) and v > 0
    }


# --- corrections -----------------------------------------------------------------------------


def as_text(value) -> str:
    """One comparable text per value: rows as canonical JSON, the rest as strings."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return str(value).strip()


def record_corrections(
    *, session, user, schema: dict, data: dict, prefilled: dict[str, int], project_code: str | None
) -> list[ExtractionCorrection]:
    """On submit: for each field filled from a document, what was extracted (as put into the
    form, recomputed here from the stored result, not taken from the browser) and what was
    submitted. Extractions the user may not read are ignored."""
    rows = []
    cache: dict[int, dict] = {}
    for field, extraction_id in prefilled.items():
        if extraction_id not in cache:
            extraction = readable_extraction(session=session, user=user, extraction_id=extraction_id)
            cache[extraction_id] = (
                form_values(session=session, schema=schema, result=extraction.result or {})
                if extraction is not None and extraction.state == DONE
                else {}
            )
        found = cache[extraction_id].get(field)
        if found is None:
            continue
        extracted, submitted = as_text(found[0]), as_text(data.get(field))
        row = ExtractionCorrection(
            extraction_id=extraction_id,
            field=field,
            extracted=extracted,
            submitted=submitted,
            accepted=extracted == submitted,
            project_code=project_code,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def accuracy(*, session) -> list[dict]:
    """Per form field: how many prefilled values were submitted, and the share kept unchanged."""
    accepted = sa.func.sum(sa.case((ExtractionCorrection.accepted, 1), else_=0))
    rows = session.execute(
        sa.select(ExtractionCorrection.field, sa.func.count(), accepted)
        .group_by(ExtractionCorrection.field)
        .order_by(ExtractionCorrection.field)
    ).all()
    return [
        {
            "field": field,
            "total": total,
            "accepted": int(kept or 0),
            "share": (Decimal(int(kept or 0)) / total).quantize(Decimal("0.001")) if total else None,
        }
        for field, total, kept in rows
    ]
