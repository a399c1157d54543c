"""Project histories: the exchange format of issue 9 (one JSON object per line) and its
strict parser.

A history is one project's weekly record: plan and actual physical progress (0..1), planned
and actual cumulative payments (decimal strings, yuan), tickets, check-ins, workforce and the
days lost to material shortages and bad weather in that week. Errors are Chinese messages
naming the field (`weeks[3].actual_progress`) and the problem; `read_jsonl` reports them with
1-based line numbers and loads every other line.
"""

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

MAX_LINE_BYTES = 1 << 20  # 1 MB: ~5,000 weeks; anything larger is not a project history
MAX_MONEY = Decimal("1e15")  # yuan; fits Numeric(18, 2)
MAX_TEXT = 100
# Weeks may start a little before the plan (site preparation) and run years past it
# (long-delayed or still unfinished projects); outside that they are a data error.
WEEKS_BEFORE_START = timedelta(days=92)
WEEKS_AFTER_END = timedelta(days=10 * 366)

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONEY = re.compile(r"^\d{1,16}(\.\d{1,2})?$")
_REGION = re.compile(r"^\d{6,12}$")


class HistoryError(ValueError):
    """A line that is not a valid history; the message is Chinese and names the field."""


@dataclass(frozen=True)
class Week:
    week_start: date
    planned_progress: float  # 0..1
    actual_progress: float  # 0..1
    planned_paid: Decimal  # yuan, cumulative to this week
    actual_paid: Decimal
    open_tickets: int
    overdue_tickets: int
    checkins: int
    workforce: int
    material_shortage_days: int
    bad_weather_days: int


@dataclass(frozen=True)
class History:
    project_id: str
    industry: str
    region_code: str
    contractor: str
    total_investment: Decimal
    planned_start: date
    planned_end: date
    actual_end: date | None
    weeks: tuple[Week, ...]  # sorted by week_start

    @property
    def delay_days(self) -> int | None:
        if self.actual_end is None:
            return None
        return (self.actual_end - self.planned_end).days

    @property
    def late(self) -> bool | None:
        delay = self.delay_days
        return None if delay is None else delay > 30


HISTORY_FIELDS = (
    "project_id",
    "industry",
    "region_code",
    "contractor",
    "total_investment",
    "planned_start",
    "planned_end",
    "actual_end",
    "weeks",
)
WEEK_FIELDS = (
    "week_start",
    "planned_progress",
    "actual_progress",
    "planned_paid",
    "actual_paid",
    "open_tickets",
    "overdue_tickets",
    "checkins",
    "workforce",
    "material_shortage_days",
    "bad_weather_days",
)
_DAYS_IN_WEEK = ("material_shortage_days", "bad_weather_days")


# --- field checks -------------------------------------------------------------------------


def _fields(obj: dict, names: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(obj) - set(names))
    if unknown:
        raise HistoryError(f"字段 {where}{unknown[0]}：未知字段")
    for name in names:
        if name not in obj:
            raise HistoryError(f"字段 {where}{name}：缺少")


def _text(value, field: str, pattern: re.Pattern | None = None, what: str = "") -> str:
    if not isinstance(value, str) or not value.strip():
        raise HistoryError(f"字段 {field}：应为非空字符串")
    if len(value) > MAX_TEXT:
        raise HistoryError(f"字段 {field}：长度超过 {MAX_TEXT} 个字符")
    if value != value.strip():
        raise HistoryError(f"字段 {field}：首尾不应有空白")
    if pattern is not None and not pattern.match(value):
        raise HistoryError(f"字段 {field}：{what}，实际为 {value!r}")
    return value


def _date(value, field: str) -> date:
    if not isinstance(value, str) or not _DATE.match(value):
        raise HistoryError(f"字段 {field}：应为 YYYY-MM-DD 格式的日期，实际为 {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HistoryError(f"字段 {field}：不是有效日期：{value}") from None


def _money(value, field: str, *, positive: bool = False) -> Decimal:
    # Strings only: a JSON number would pass through a binary float and lose cents.
    if not isinstance(value, str):
        raise HistoryError(f'字段 {field}：金额应为十进制数字符串（如 "1234.50"），实际为 {value!r}')
    if value.startswith("-"):
        raise HistoryError(f"字段 {field}：金额不能为负数，实际为 {value}")
    if not _MONEY.match(value):
        raise HistoryError(f"字段 {field}：金额应为最多两位小数的十进制数，实际为 {value!r}")
    try:
        amount = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise HistoryError(f"字段 {field}：不是有效金额：{value!r}") from None
    if amount >= MAX_MONEY:
        raise HistoryError(f"字段 {field}：金额过大：{value}")
    if positive and amount <= 0:
        raise HistoryError(f"字段 {field}：金额应大于 0，实际为 {value}")
    return amount


def _progress(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HistoryError(f"字段 {field}：应为 0 到 1 之间的数，实际为 {value!r}")
    if not math.isfinite(value) or not 0 <= value <= 1:
        raise HistoryError(f"字段 {field}：应在 0 到 1 之间，实际为 {value}")
    return float(value)


def _count(value, field: str, *, most: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise HistoryError(f"字段 {field}：应为非负整数，实际为 {value!r}")
    if value < 0:
        raise HistoryError(f"字段 {field}：不能为负数，实际为 {value}")
    if most is not None and value > most:
        raise HistoryError(f"字段 {field}：一周最多 {most} 天，实际为 {value}")
    if value > 10**9:
        raise HistoryError(f"字段 {field}：数值过大：{value}")
    return value


def _week(obj, index: int) -> Week:
    where = f"weeks[{index}]."
    if not isinstance(obj, dict):
        raise HistoryError(f"字段 weeks[{index}]：应为 JSON 对象")
    _fields(obj, WEEK_FIELDS, where)
    week = Week(
        week_start=_date(obj["week_start"], where + "week_start"),
        planned_progress=_progress(obj["planned_progress"], where + "planned_progress"),
        actual_progress=_progress(obj["actual_progress"], where + "actual_progress"),
        planned_paid=_money(obj["planned_paid"], where + "planned_paid"),
        actual_paid=_money(obj["actual_paid"], where + "actual_paid"),
        open_tickets=_count(obj["open_tickets"], where + "open_tickets"),
        overdue_tickets=_count(obj["overdue_tickets"], where + "overdue_tickets"),
        checkins=_count(obj["checkins"], where + "checkins"),
        workforce=_count(obj["workforce"], where + "workforce"),
        material_shortage_days=_count(
            obj["material_shortage_days"], where + "material_shortage_days", most=7
        ),
        bad_weather_days=_count(obj["bad_weather_days"], where + "bad_weather_days", most=7),
    )
    if week.overdue_tickets > week.open_tickets:
        raise HistoryError(
            f"字段 {where}overdue_tickets：逾期工单数 {week.overdue_tickets} 不能大于未结工单数 {week.open_tickets}"
        )
    return week


def _reject_constant(name: str):
    raise HistoryError(f"JSON 中不允许 {name}")


def parse_object(obj) -> History:
    """Validate one decoded JSON object; raises HistoryError."""
    if not isinstance(obj, dict):
        raise HistoryError("每行应为一个 JSON 对象")
    _fields(obj, HISTORY_FIELDS, "")
    project_id = _text(obj["project_id"], "project_id")
    industry = _text(obj["industry"], "industry")
    region_code = _text(obj["region_code"], "region_code", _REGION, "应为 6 至 12 位数字的行政区划代码")
    contractor = _text(obj["contractor"], "contractor")
    total = _money(obj["total_investment"], "total_investment", positive=True)
    planned_start = _date(obj["planned_start"], "planned_start")
    planned_end = _date(obj["planned_end"], "planned_end")
    if planned_end <= planned_start:
        raise HistoryError(f"字段 planned_end：计划完工 {planned_end} 应晚于计划开工 {planned_start}")
    actual_end = None if obj["actual_end"] is None else _date(obj["actual_end"], "actual_end")
    if actual_end is not None and actual_end < planned_start:
        raise HistoryError(f"字段 actual_end：实际完工 {actual_end} 不能早于计划开工 {planned_start}")
    raw_weeks = obj["weeks"]
    if not isinstance(raw_weeks, list):
        raise HistoryError("字段 weeks：应为数组")
    if not raw_weeks:
        raise HistoryError("字段 weeks：至少应有一周的记录")
    weeks = tuple(_week(item, i) for i, item in enumerate(raw_weeks))
    low = planned_start - WEEKS_BEFORE_START
    high = max(planned_end, actual_end or planned_end) + WEEKS_AFTER_END
    for i, week in enumerate(weeks):
        if not low <= week.week_start <= high:
            raise HistoryError(
                f"字段 weeks[{i}].week_start：{week.week_start} 超出合理范围（{low} 至 {high}）"
            )
        if i and week.week_start <= weeks[i - 1].week_start:
            problem = "重复" if week.week_start == weeks[i - 1].week_start else "未按时间顺序排列"
            raise HistoryError(f"字段 weeks[{i}].week_start：{week.week_start} {problem}")
    return History(
        project_id=project_id,
        industry=industry,
        region_code=region_code,
        contractor=contractor,
        total_investment=total,
        planned_start=planned_start,
        planned_end=planned_end,
        actual_end=actual_end,
        weeks=weeks,
    )


def parse_line(text: str) -> History:
    """One line of the exchange format → History; raises HistoryError."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_LINE_BYTES:
        raise HistoryError(f"行过长（超过 {MAX_LINE_BYTES // (1 << 20)} MB）")
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except HistoryError:
        raise
    except (ValueError, RecursionError) as exc:
        raise HistoryError(f"不是有效的 JSON：{exc}") from None
    return parse_object(obj)


def _lines_of_file(path: Path):
    """(line number, text or error) for each line, refusing over-long lines without holding
    them in memory."""
    with open(path, "rb") as fh:
        number = 0
        while True:
            raw = fh.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # skip the rest of the line
                    raw = fh.readline(MAX_LINE_BYTES)
                yield number, HistoryError(f"行过长（超过 {MAX_LINE_BYTES // (1 << 20)} MB）")
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield number, HistoryError("不是有效的 UTF-8 文本")
                continue
            yield number, text


def read_jsonl(path_or_lines) -> tuple[list[History], list[tuple[int, str]]]:
    """Read a JSONL file (path) or an iterable of lines. Blank lines are skipped; malformed
    lines are returned as (1-based line number, Chinese message) and the rest loaded.
    A project_id seen on an earlier line is an error on the later line."""
    if isinstance(path_or_lines, str | Path):
        numbered: Iterable = _lines_of_file(Path(path_or_lines))
    else:
        numbered = enumerate(path_or_lines, start=1)
    histories: list[History] = []
    errors: list[tuple[int, str]] = []
    first_line: dict[str, int] = {}
    for number, text in numbered:
        if isinstance(text, HistoryError):
            errors.append((number, str(text)))
            continue
        if number == 1:
            text = text.removeprefix("\ufeff")
        if not text.strip():
            continue
        try:
            history = parse_line(text)
        except HistoryError as exc:
            errors.append((number, str(exc)))
            continue
        if history.project_id in first_line:
            errors.append(
                (
                    number,
                    f"字段 project_id：{history.project_id} 与第 {first_line[history.project_id]} 行重复",
                )
            )
            continue
        first_line[history.project_id] = number
        histories.append(history)
    return histories, errors


def _week_object(week: Week) -> dict:
    return {
        "week_start": week.week_start.isoformat(),
        "planned_progress": week.planned_progress,
        "actual_progress": week.actual_progress,
        "planned_paid": format(week.planned_paid, "f"),
        "actual_paid": format(week.actual_paid, "f"),
        "open_tickets": week.open_tickets,
        "overdue_tickets": week.overdue_tickets,
        "checkins": week.checkins,
        "workforce": week.workforce,
        "material_shortage_days": week.material_shortage_days,
        "bad_weather_days": week.bad_weather_days,
    }


def to_object(h: History) -> dict:
    return {
        "project_id": h.project_id,
        "industry": h.industry,
        "region_code": h.region_code,
        "contractor": h.contractor,
        "total_investment": format(h.total_investment, "f"),
        "planned_start": h.planned_start.isoformat(),
        "planned_end": h.planned_end.isoformat(),
        "actual_end": h.actual_end.isoformat() if h.actual_end else None,
        "weeks": [_week_object(w) for w in h.weeks],
    }


def dump_line(h: History) -> str:
    """The exchange format, one line without the newline; parse_line(dump_line(h)) == h."""
    return json.dumps(to_object(h), ensure_ascii=False, separators=(",", ":"))


def write_jsonl(path, histories: Iterable[History]) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as fh:
        for h in histories:
            fh.write(dump_line(h) + "\n")
            count += 1
    return count
