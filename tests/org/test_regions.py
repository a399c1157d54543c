"""行政区划 of Zhejiang as in force since the 2021 adjustment of Hangzhou.

Hand-checked facts: 90 county-level divisions = 37 市辖区 + 20 县级市 + 33 县 (incl. 景宁畲族
自治县); 下城区 330103 and 江干区 330104 were abolished in 2021 (临平区 330113 and 钱塘区 330114
created); 龙港市 330383 (2019) and 玉环市 331083 (2017) are county-level cities.
"""

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from backend.org.errors import RegionNotFound
from backend.org.models import Region
from backend.org.service import descendant_codes, region_path, seed_regions, validate_region_code

COUNTIES_PER_CITY = {
    "330100": ("杭州市", 13),
    "330200": ("宁波市", 10),
    "330300": ("温州市", 12),
    "330400": ("嘉兴市", 7),
    "330500": ("湖州市", 5),
    "330600": ("绍兴市", 6),
    "330700": ("金华市", 9),
    "330800": ("衢州市", 6),
    "330900": ("舟山市", 4),
    "331000": ("台州市", 9),
    "331100": ("丽水市", 9),
}


@pytest.fixture()
def seeded(session):
    created = seed_regions(session=session)
    session.commit()
    return created


class CountStatements:
    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE is no query
            self.count += 1


def test_seed_creates_province_cities_and_counties(session, seeded):
    assert seeded == 1 + 11 + 90
    levels = dict(session.execute(sa.select(Region.level, sa.func.count()).group_by(Region.level)).all())
    assert levels == {"province": 1, "city": 11, "county": 90}
    province = session.get(Region, "330000")
    assert (province.name, province.parent_code) == ("浙江省", None)


def test_every_city_has_its_exact_county_level_divisions(session, seeded):
    cities = {r.code: r for r in session.scalars(sa.select(Region).filter_by(level="city"))}
    assert {code: (r.name, r.parent_code) for code, r in cities.items()} == {
        code: (name, "330000") for code, (name, _) in COUNTIES_PER_CITY.items()
    }
    counts = dict(
        session.execute(
            sa.select(Region.parent_code, sa.func.count())
            .filter_by(level="county")
            .group_by(Region.parent_code)
        ).all()
    )
    assert counts == {code: n for code, (_, n) in COUNTIES_PER_CITY.items()}


def test_county_level_kinds_match_official_statistics(session, seeded):
    names = session.scalars(sa.select(Region.name).filter_by(level="county")).all()
    assert sum(n.endswith("区") for n in names) == 37
    assert sum(n.endswith("市") for n in names) == 20
    assert sum(n.endswith("县") for n in names) == 33
    for county in session.scalars(sa.select(Region).filter_by(level="county")):
        assert county.code[:4] == county.parent_code[:4], county.name


@pytest.mark.parametrize(
    "code, name",
    [
        ("330102", "上城区"),
        ("330105", "拱墅区"),
        ("330113", "临平区"),
        ("330114", "钱塘区"),
        ("330182", "建德市"),
        ("330203", "海曙区"),
        ("330213", "奉化区"),
        ("330305", "洞头区"),
        ("330383", "龙港市"),
        ("330603", "柯桥区"),
        ("330604", "上虞区"),
        ("330683", "嵊州市"),
        ("330784", "永康市"),
        ("330881", "江山市"),
        ("330922", "嵊泗县"),
        ("331083", "玉环市"),
        ("331127", "景宁畲族自治县"),
        ("331181", "龙泉市"),
    ],
)
def test_current_codes_and_names(session, seeded, code, name):
    assert session.get(Region, code).name == name


@pytest.mark.parametrize("abolished", ["330103", "330104", "330185", "330204", "330183", "330621", "330682"])
def test_abolished_divisions_are_absent(session, seeded, abolished):
    # 下城, 江干 (2021); 富阳市, 江东区, 临安市 (district since); 绍兴县, 上虞市 (2013)
    assert session.get(Region, abolished) is None
    assert not validate_region_code(abolished)


def test_seed_is_idempotent_and_corrects_names(session, seeded):
    session.get(Region, "330113").name = "余杭区"
    session.commit()
    assert seed_regions(session=session) == 0
    session.commit()
    assert session.get(Region, "330113").name == "临平区"
    assert session.scalar(sa.select(sa.func.count()).select_from(Region)) == 102


def test_region_path_goes_from_province_down(session, seeded):
    assert [r.name for r in region_path(session=session, code="330383")] == ["浙江省", "温州市", "龙港市"]
    assert [r.code for r in region_path(session=session, code="330100")] == ["330000", "330100"]
    assert [r.code for r in region_path(session=session, code="330000")] == ["330000"]


def test_region_path_and_descendants_of_unknown_code(session, seeded):
    with pytest.raises(RegionNotFound) as refused:
        region_path(session=session, code="330103")
    assert refused.value.data == {"code": "330103"}
    assert "330103" in str(refused.value)
    with pytest.raises(RegionNotFound):
        descendant_codes(session=session, code="999999")


def test_descendants(session, seeded):
    hangzhou = descendant_codes(session=session, code="330100")
    assert len(hangzhou) == 14
    assert {"330100", "330102", "330114", "330182"} <= hangzhou
    assert "330203" not in hangzhou and "330000" not in hangzhou
    assert descendant_codes(session=session, code="331127") == {"331127"}
    province = descendant_codes(session=session, code="330000")
    assert province == set(session.scalars(sa.select(Region.code)))
    assert len(province) == 102


def test_path_and_descendants_are_one_query_each(app, session, seeded):
    from backend.extensions import db

    with CountStatements(db.engine) as counter:
        descendant_codes(session=session, code="330000")
    assert counter.count == 1
    with CountStatements(db.engine) as counter:
        region_path(session=session, code="331127")
    assert counter.count == 1


@pytest.mark.parametrize("code", ["330000", "330100", "330114", "331127", "110105", "440300"])
def test_valid_region_codes(code):
    assert validate_region_code(code)


@pytest.mark.parametrize(
    "code",
    ["", "33010", "3301000", "33010a", " 330100", "330101", "330099", "990000", "000000", None, 330100],
)
def test_invalid_region_codes(code):
    assert not validate_region_code(code)
