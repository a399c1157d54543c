"""Keep imported histories: upsert by (source, project_id), read them back as History."""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from backend.db import utcnow
from backend.risk.history import History, dump_line, parse_object, to_object
from backend.risk.models import RiskHistory

DEFAULT_SOURCE = "import"
_BATCH = 500


@dataclass(frozen=True)
class SaveResult:
    created: int
    updated: int
    unchanged: int

    @property
    def loaded(self) -> int:
        return self.created + self.updated + self.unchanged


def _sha(h: History) -> str:
    return hashlib.sha256(dump_line(h).encode("utf-8")).hexdigest()


def save_histories(*, session, histories: Iterable[History], source: str = DEFAULT_SOURCE) -> SaveResult:
    """Insert new histories, replace changed ones, leave identical ones alone. Flushes."""
    source = source.strip()
    if not source or len(source) > 64:
        raise ValueError("来源名称应为 1 至 64 个字符")
    histories = list(histories)
    by_id = {h.project_id: h for h in histories}  # a later duplicate wins
    existing: dict[str, RiskHistory] = {}
    ids = list(by_id)
    for i in range(0, len(ids), _BATCH):
        rows = session.scalars(
            sa.select(RiskHistory).where(
                RiskHistory.source == source, RiskHistory.project_id.in_(ids[i : i + _BATCH])
            )
        )
        existing.update({row.project_id: row for row in rows})
    created = updated = unchanged = 0
    now = utcnow()
    for project_id, h in by_id.items():
        sha = _sha(h)
        row = existing.get(project_id)
        if row is not None and row.content_sha256 == sha:
            unchanged += 1
            continue
        obj = to_object(h)
        values = dict(
            industry=h.industry,
            region_code=h.region_code,
            contractor=h.contractor,
            total_investment=h.total_investment,
            planned_start=h.planned_start,
            planned_end=h.planned_end,
            actual_end=h.actual_end,
            weeks=obj["weeks"],
            content_sha256=sha,
            updated_at=now,
        )
        if row is None:
            session.add(RiskHistory(source=source, project_id=project_id, imported_at=now, **values))
            created += 1
        else:
            for key, value in values.items():
                setattr(row, key, value)
            updated += 1
    session.flush()
    return SaveResult(created=created, updated=updated, unchanged=unchanged)


def to_history(row: RiskHistory) -> History:
    return parse_object(
        {
            "project_id": row.project_id,
            "industry": row.industry,
            "region_code": row.region_code,
            "contractor": row.contractor,
            "total_investment": f"{row.total_investment:.2f}",
            "planned_start": row.planned_start.isoformat(),
            "planned_end": row.planned_end.isoformat(),
            "actual_end": row.actual_end.isoformat() if row.actual_end else None,
            "weeks": row.weeks,
        }
    )


def load_histories(*, session, source: str | None = None) -> list[History]:
    """Every stored history (of one source, if given), ordered by source and project_id."""
    query = sa.select(RiskHistory).order_by(RiskHistory.source, RiskHistory.project_id)
    if source is not None:
        query = query.where(RiskHistory.source == source)
    return [to_history(row) for row in session.scalars(query)]


def sources(*, session) -> list[tuple[str, int]]:
    """(source, number of histories) for each source."""
    rows = session.execute(
        sa.select(RiskHistory.source, sa.func.count())
        .group_by(RiskHistory.source)
        .order_by(RiskHistory.source)
    )
    return [(source, count) for source, count in rows]
