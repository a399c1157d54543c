"""Features of a cut history: nothing after the cut, contractor records without leaks, scale-free."""

import dataclasses
from datetime import timedelta
from decimal import Decimal

import pytest

from backend.risk import simulator
from backend.risk.features import FEATURES, Context, cut_date, features, snapshot


@pytest.fixture(scope="module")
def histories():
    return [h for h in simulator.simulate(80, seed=21) if h.actual_end is not None]


def test_snapshot_sees_only_weeks_ended_by_the_cut(histories):
    h = histories[0]
    cut = snapshot(h, 0.25)
    assert cut.actual_end is None
    assert cut.weeks and all(w.week_start + timedelta(days=7) <= cut_date(h, 0.25) for w in cut.weeks)
    # Rewriting everything after the cut changes nothing.
    later = tuple(dataclasses.replace(w, actual_progress=0.0, workforce=0) for w in h.weeks[len(cut.weeks) :])
    other = dataclasses.replace(h, weeks=cut.weeks + later, actual_end=h.actual_end + timedelta(days=400))
    assert features(snapshot(other, 0.25)) == features(cut)


def _same_contractor(h, pid, end, late):
    delay = 60 if late else 0
    return dataclasses.replace(
        h, project_id=pid, planned_end=end - timedelta(days=delay), actual_end=end, contractor="X建设"
    )


def test_contractor_record_counts_only_earlier_finished_projects_and_never_itself(histories):
    h = dataclasses.replace(histories[0], contractor="X建设")
    cut = snapshot(h, 0.5)
    now = cut.weeks[-1].week_start + timedelta(days=7)
    base = histories[1]
    before_late = _same_contractor(base, "B1", now - timedelta(days=30), late=True)
    after_late = _same_contractor(base, "A1", now + timedelta(days=30), late=True)
    itself = dataclasses.replace(h, actual_end=h.planned_end + timedelta(days=90))  # its own (late) outcome
    i = FEATURES.index("contractor_late_share")
    n = FEATURES.index("contractor_finished")
    ctx = Context.fit(histories[2:])
    empty = features(cut, ctx)
    assert empty[FEATURES[n]] == 0
    # Finished after the cut, or the project itself: not known at the cut.
    assert features(cut, ctx.with_records([after_late, itself])) == empty
    with_past = features(cut, ctx.with_records([before_late, after_late, itself]))
    assert with_past[FEATURES[i]] > empty[FEATURES[i]] and with_past[FEATURES[n]] > 0
    # Training contexts follow the same rule.
    fitted = Context.fit([*histories[2:], before_late, after_late, itself])
    assert fitted.contractor_record("X建设", now.toordinal(), h.project_id)[1] == 1


def test_features_are_scale_free(histories):
    h = histories[3]
    bigger = dataclasses.replace(
        h,
        total_investment=h.total_investment * 10,
        weeks=tuple(
            dataclasses.replace(
                w,
                planned_paid=w.planned_paid * 10,
                actual_paid=w.actual_paid * 10,
                workforce=w.workforce * 3,
                checkins=w.checkins * 2,
                open_tickets=w.open_tickets * 2,
                overdue_tickets=w.overdue_tickets * 2,
            )
            for w in h.weeks
        ),
    )
    a, b = features(snapshot(h, 0.5)), features(snapshot(bigger, 0.5))
    for name in FEATURES:
        if name == "log_investment":
            assert b[name] == pytest.approx(a[name] + 1)
        else:
            assert b[name] == pytest.approx(a[name], abs=1e-9), name


def test_money_precision_is_irrelevant(histories):
    h = histories[4]
    assert isinstance(h.total_investment, Decimal)
    assert set(features(snapshot(h, 0.3))) == set(FEATURES)


def test_crew_signals_are_neutral_when_no_crew_was_reported_before(histories):
    """A platform project whose daily logs start late has zero crew in its first weeks: that is
    no report, not a crew that then grew twelvefold."""
    h = snapshot(histories[0], 0.5)
    n = len(h.weeks)
    quiet = tuple(dataclasses.replace(w, workforce=0 if i < n - 4 else 12) for i, w in enumerate(h.weeks))
    got = features(dataclasses.replace(h, weeks=quiet))
    assert got["workforce_vs_peak"] == 1.0
    assert got["workforce_change"] == 0.0
    # With crews reported before, the same recent crew is compared with them.
    reported = tuple(dataclasses.replace(w, workforce=6 if i < n - 4 else 12) for i, w in enumerate(h.weeks))
    got = features(dataclasses.replace(h, weeks=reported))
    assert got["workforce_vs_peak"] == pytest.approx(2.0)
    assert got["workforce_change"] == pytest.approx(6 / 18)
