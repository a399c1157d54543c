"""Gauges of the platform's state, read from the database at scrape time (same in every process)."""

import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily

from backend.db import utcnow
from backend.jobs.models import STATES as JOB_STATES
from backend.jobs.models import OutboxJob
from backend.webhooks.models import DELIVERY_STATES, WebhookDelivery
from backend.workflow.models import Incident, ProcessInstance, Timer

# Known instance states are always reported (0 included), so a series never just disappears.
INSTANCE_STATES = ("running", "completed", "incident", "suspended", "cancelled")


def _counts(session, column, known) -> dict[str, int]:
    counts = dict.fromkeys(known, 0)
    for state, count in session.execute(sa.select(column, sa.func.count()).group_by(column)):
        counts[state] = count
    return counts


def _by_state(name: str, documentation: str, counts: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["state"])
    for state, count in sorted(counts.items()):
        family.add_metric([state], count)
    return family


def collect_state(session) -> list[GaugeMetricFamily]:
    now = utcnow()
    oldest_due = session.scalar(sa.select(sa.func.min(Timer.due_at)).where(Timer.due_at <= now))
    open_incidents = session.scalar(
        sa.select(sa.func.count()).select_from(Incident).where(Incident.state == "open")
    )
    return [
        _by_state("bpm_jobs", "Outbox jobs by state.", _counts(session, OutboxJob.state, JOB_STATES)),
        _by_state(
            "bpm_process_instances",
            "Process instances by state.",
            _counts(session, ProcessInstance.state, INSTANCE_STATES),
        ),
        GaugeMetricFamily("bpm_incidents_open", "Incidents not resolved yet.", value=open_incidents or 0),
        GaugeMetricFamily(
            "bpm_timer_lag_seconds",
            "Now minus the due time of the oldest due timer that has not fired (0 when none is late).",
            value=(now - oldest_due).total_seconds() if oldest_due else 0.0,
        ),
        _by_state(
            "bpm_webhook_deliveries",
            "Outbound webhook deliveries by state.",
            _counts(session, WebhookDelivery.state, DELIVERY_STATES),
        ),
    ]


class _StateCollector:
    def __init__(self, families):
        self._families = families

    def collect(self):
        return iter(self._families)


def registry(session) -> CollectorRegistry:
    """A registry for one scrape. A database that cannot answer gives `bpm_database_up 0`
    and no state gauges, never a failed scrape (the request counters are still worth having)."""
    try:
        families = collect_state(session)
        up = 1
    except sa.exc.SQLAlchemyError:
        session.rollback()
        families, up = [], 0
    families.append(GaugeMetricFamily("bpm_database_up", "1 if the state gauges could be read.", value=up))
    reg = CollectorRegistry(auto_describe=False)
    reg.register(_StateCollector(families))
    return reg
