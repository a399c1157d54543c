"""The national project code: 24 characters, YYYY-RRRRRR-II-NN-SSSSSS, a real year and a real
administrative division."""

from datetime import date

import pytest

from backend.projects.service import CODE_FORMAT_MESSAGE, validate_project_code

TODAY = date(2025, 11, 3)


def test_valid_code(session, org):
    assert validate_project_code("2025-330106-48-01-00017X", session=session, today=TODAY) == []
    assert validate_project_code("2015-330000-47-02-123456", session=session, today=TODAY) == []


@pytest.mark.parametrize(
    ("code", "problems"),
    [
        (None, ["请填写项目代码"]),
        ("   ", ["请填写项目代码"]),
        ("2025-330106-48-01-0017X", ["项目代码应为24位 (含连字符), 现为23位"]),
        ("2025/330106/48/01/00017X", [CODE_FORMAT_MESSAGE]),
        ("2025-33O106-48-01-00017X", [CODE_FORMAT_MESSAGE]),
        ("2025-330106-48-01-00017x", [CODE_FORMAT_MESSAGE]),
        ("2014-330106-48-01-00017X", ["项目代码中的赋码年份 2014 无效 (应在 2015–2025 之间)"]),
        ("2026-330106-48-01-00017X", ["项目代码中的赋码年份 2026 无效 (应在 2015–2025 之间)"]),
        ("2025-330199-48-01-00017X", ["项目代码中的行政区划代码 330199 不存在"]),
        (
            "2025-330106-00-00-00017X",
            ["项目代码中的行业/部门代码不能为 00", "项目代码中的项目类型代码不能为 00"],
        ),
    ],
)
def test_invalid_codes(session, org, code, problems):
    assert validate_project_code(code, session=session, today=TODAY) == problems


def test_without_a_session_the_region_is_not_looked_up():
    assert validate_project_code("2025-999999-48-01-00017X", today=TODAY) == []
