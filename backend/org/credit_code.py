"""统一社会信用代码 (GB 32100-2015): 18 characters, two check characters.

Layout: [1] registration authority, [2] organisation category, [3-8] 行政区划 of the
registering authority, [9-17] 主体标识码 (the organisation code of GB 11714, whose 9th
character is its own check digit), [18] check character over the first 17.
"""

import re

# The 31 characters of the code: digits and capitals without I, O, S, V, Z.
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {char: value for value, char in enumerate(ALPHABET)}
# Weight of position i is 3^i mod 31.
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
# GB 11714 organisation code: weights of its first 8 characters, modulus 11.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_SHAPE = re.compile(rf"[{ALPHABET}]{{2}}[0-9]{{6}}[{ALPHABET}]{{10}}")


def check_character(first17: str) -> str:
    """The 18th character (GB 32100-2015 §4.2) for the first 17."""
    total = sum(_VALUE[char] * weight for char, weight in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def organisation_check_character(first8: str) -> str:
    """The 9th character of a GB 11714 organisation code (letters count A=10 ... Z=35)."""
    total = sum(int(char, 36) * weight for char, weight in zip(first8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def normalize_credit_code(code: str) -> str:
    """What a person typed, without spaces or hyphens, in capitals (as printed on licences)."""
    return re.sub(r"[\s-]", "", code or "").upper()


def validate_credit_code(code: str) -> bool:
    """True when `code` is a well-formed 统一社会信用代码 whose check characters are right."""
    if not isinstance(code, str) or not _SHAPE.fullmatch(code):
        return False
    organisation = code[8:17]
    if organisation_check_character(organisation[:8]) != organisation[8]:
        return False
    return check_character(code[:17]) == code[17]


def make_credit_code(prefix: str, region_code: str, organisation_body: str) -> str:
    """A valid code from its parts: '91' + region + 8 characters; both check characters added.
    For demo and test data only; real codes are issued by the registering authority."""
    organisation = organisation_body + organisation_check_character(organisation_body)
    first17 = prefix + region_code + organisation
    return first17 + check_character(first17)
