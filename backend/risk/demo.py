"""Demo data of the risk model: simulated histories (source "simulator") and model v1.

Idempotent: the histories are upserted by (source, project_id), so a second load creates none;
the model is trained only when no version exists. A few seconds: 160 projects; a second load that finds them and a model returns at once.
"""

from backend.demo import loader
from backend.risk import simulator
from backend.risk.store import save_histories, sources

SOURCE = "simulator"
DEMO_PROJECTS = 160
DEMO_SEED = 2026


@loader
def load(*, session) -> int:
    """风险模型演示数据：模拟项目历史与模型 v1 (risk histories and model)"""
    from backend.risk.model import latest_version, save, train

    if dict(sources(session=session)).get(SOURCE, 0) >= DEMO_PROJECTS and latest_version() is not None:
        return 0
    histories = simulator.simulate(DEMO_PROJECTS, seed=DEMO_SEED, id_prefix="DEMO")
    result = save_histories(session=session, histories=histories, source=SOURCE)
    if latest_version() is None:
        save(train(histories, seed=0))
    return result.created


@loader
def load_warnings(*, session) -> int:
    """风险预警演示：评估在建项目并派发处置 (risk warnings of the demo projects)"""
    from backend.risk.warnings import raise_demo_warnings

    return raise_demo_warnings(session).get("raised", 0)
