"""flask risk import: exit codes, messages, idempotent re-import."""

import sqlalchemy as sa

from backend.risk import simulator
from backend.risk.history import dump_line, write_jsonl
from backend.risk.models import RiskHistory
from backend.risk.store import load_histories


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=["risk", *args])


def test_import_twice_is_idempotent(app, session, tmp_path):
    histories = simulator.simulate(5, seed=11)
    path = tmp_path / "h.jsonl"
    write_jsonl(path, histories)
    first = invoke(app, "import", str(path))
    assert first.exit_code == 0, first.output
    assert "loaded=5 created=5 updated=0 unchanged=0 rejected=0 source=import" in first.output
    again = invoke(app, "import", str(path))
    assert again.exit_code == 0, again.output
    assert "loaded=5 created=0 updated=0 unchanged=5 rejected=0" in again.output
    assert session.scalar(sa.select(sa.func.count()).select_from(RiskHistory)) == 5
    assert load_histories(session=session) == sorted(histories, key=lambda h: h.project_id)


def test_import_reports_bad_lines_and_loads_the_rest(app, session, tmp_path):
    good = simulator.simulate(2, seed=12)
    path = tmp_path / "mixed.jsonl"
    path.write_text(dump_line(good[0]) + "\n[1, 2]\n" + dump_line(good[1]) + "\n", "utf-8")
    result = invoke(app, "import", str(path), "--source", "county")
    assert result.exit_code == 0, result.output
    assert "loaded=2 created=2" in result.output and "rejected=1 source=county" in result.output
    assert "line 2: " in result.output
    assert [h.project_id for h in load_histories(session=session, source="county")] == sorted(
        h.project_id for h in good
    )


def test_changed_history_is_updated(app, session, tmp_path):
    h = simulator.simulate(1, seed=13)[0]
    path = tmp_path / "one.jsonl"
    write_jsonl(path, [h])
    assert invoke(app, "import", str(path)).exit_code == 0
    changed = h.__class__(**{**h.__dict__, "industry": "水利" if h.industry != "水利" else "交通"})
    write_jsonl(path, [changed])
    result = invoke(app, "import", str(path))
    assert "created=0 updated=1 unchanged=0" in result.output
    assert load_histories(session=session)[0].industry == changed.industry


def test_nothing_loadable_exits_1(app, session, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("nope\n", "utf-8")
    result = invoke(app, "import", str(path))
    assert result.exit_code == 1
    assert "line 1: " in result.output and "没有可导入的项目历史" in result.output


def test_missing_file_is_a_usage_error(app, session, tmp_path):
    result = invoke(app, "import", str(tmp_path / "absent.jsonl"))
    assert result.exit_code == 2
    assert "does not exist" in result.output
