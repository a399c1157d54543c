from tests.approvals.conftest import deployed, flow, org  # noqa: F401  (fixtures)
