"""The kpi.view permission and the built-in leader role (issue 10)."""

from backend.authz.permissions import BUSINESS_ACTIONS, DEFAULT_GRANTS, PERMISSIONS, ROLE_NAMES
from backend.kpi.catalogue import BY_CODE, CATALOGUE


def test_kpi_view_mirrors_risk_view_and_the_leader_reads_only():
    assert PERMISSIONS["kpi.view"] == "查看绩效指标和领导驾驶舱"
    assert ROLE_NAMES["leader"] == "领导"
    assert DEFAULT_GRANTS["leader"] == {"project.read", "kpi.view", "risk.view", "funds.read"}
    assert not DEFAULT_GRANTS["leader"] & BUSINESS_ACTIONS
    viewers = {role for role, grants in DEFAULT_GRANTS.items() if "kpi.view" in grants}
    risk_viewers = {role for role, grants in DEFAULT_GRANTS.items() if "risk.view" in grants}
    assert viewers == risk_viewers == {"reviewer", "head", "finance", "inspector", "operator", "leader"}


def test_the_catalogue_is_complete():
    codes = [i.code for i in CATALOGUE]
    assert len(codes) == len(set(codes)) == 15 and set(codes) == set(BY_CODE)
    for indicator in CATALOGUE:
        assert indicator.unit in {"%", "天", "个", "分", "倍"}
        assert indicator.better in {"higher", "lower", "none"}
        assert indicator.name and indicator.formula and indicator.source and indicator.period
