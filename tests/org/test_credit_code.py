"""统一社会信用代码 (GB 32100-2015) with the GB 11714 check of its organisation code.

Known-good vectors are codes of real companies as printed on their business licences
(and the example of python-stdnum's cn.uscc); a wrong algorithm passes a random code with
probability 1/31 (final character) × 1/11 (organisation code)."""

import pytest

from backend.org.credit_code import ALPHABET, make_credit_code, normalize_credit_code, validate_credit_code
from backend.org.demo import UNITS

REAL_CODES = [
    "91330100716105852F",  # 阿里巴巴(中国)有限公司, 杭州
    "914403001922038216",  # 华为技术有限公司, 深圳
    "9144030071526726XG",  # 腾讯科技(深圳)有限公司
    "91110108551385082Q",  # 小米科技有限责任公司, 北京海淀
    "91110000600037341L",  # python-stdnum example
    "91310115MA1K3BTP2B",  # post-2015 'MA' organisation code with letters, 上海浦东
    "121200004013590816",  # 事业单位 registered by 机构编制 (1), 天津
]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code):
    assert validate_credit_code(code)


@pytest.mark.parametrize("code", REAL_CODES)
def test_every_single_character_error_is_caught(code):
    for position in range(18):
        for replacement in ALPHABET:
            if replacement != code[position]:
                corrupted = code[:position] + replacement + code[position + 1 :]
                assert not validate_credit_code(corrupted), corrupted


@pytest.mark.parametrize("code", REAL_CODES)
def test_adjacent_transpositions_are_caught(code):
    for position in range(17):
        swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
        if swapped != code:
            assert not validate_credit_code(swapped), swapped


def test_organisation_code_check_digit_is_enforced():
    # Organisation code 71610585 + wrong check '3' (right: '2'); the final character is
    # recomputed so only GB 11714 can notice.
    from backend.org.credit_code import check_character

    first17 = "91330100" + "716105853"
    assert not validate_credit_code(first17 + check_character(first17))


@pytest.mark.parametrize(
    "code",
    [
        "",
        "91330100716105852",  # 17
        "91330100716105852FF",  # 19
        "91330100716105852f",  # lower case
        "9133010O716105852F",  # letter O in the region
        "91330100716I05852F",  # I is not in the alphabet
        "91330100716105852Z",
        " 91330100716105852F",
        None,
    ],
)
def test_malformed_codes(code):
    assert not validate_credit_code(code)


def test_normalize_then_validate():
    assert normalize_credit_code(" 9133 0100-7161 0585 2f ") == "91330100716105852F"
    assert validate_credit_code(normalize_credit_code("91330100716105852f"))


def test_make_credit_code_matches_a_real_one():
    assert make_credit_code("91", "330100", "71610585") == "91330100716105852F"


def test_demo_units_have_valid_distinct_codes():
    codes = [credit_code for _, _, credit_code, *_ in UNITS]
    assert len(set(codes)) == len(codes)
    for code, (_, _, _, region, *_) in zip(codes, UNITS, strict=True):
        assert validate_credit_code(code), code
        assert code[2:8] == region  # registered where the unit is
