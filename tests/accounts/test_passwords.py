"""Passwords are stored as argon2id hashes and must pass the policy (≥ 8, 3 of 4 classes)."""

import pytest

from backend.accounts import WeakPassword, check_policy, password_problems, service
from backend.accounts.passwords import verify_password
from backend.org.models import User


def test_hash_is_argon2id_salted_and_verifies():
    user, other = User(username="a"), User(username="b")
    service.set_password(user=user, password="Abcdef1!")
    service.set_password(user=other, password="Abcdef1!")
    assert user.password_hash.startswith("$argon2id$")
    assert "Abcdef1!" not in user.password_hash
    assert user.password_hash != other.password_hash  # a salt per hash
    assert service.check_password(user=user, password="Abcdef1!")
    assert not service.check_password(user=user, password="abcdef1!")
    assert not service.check_password(user=user, password="")


def test_user_without_password_or_with_corrupt_hash_never_matches():
    assert not service.check_password(user=User(username="x"), password="not-a-real-password")
    assert not verify_password("plain-text-in-db", "plain-text-in-db")


def test_set_password_remembers_whether_it_must_be_changed():
    user = User(username="a")
    service.set_password(user=user, password="Abcdef1!", must_change=True)
    assert user.must_change_password is True


@pytest.mark.parametrize(
    "password",
    ["Abcdef1!", "abcdef12!", "ABCDEF12a", "Ab3!Ab3!", "密码Abc123", "Abcdefgh1"],
)
def test_acceptable_passwords(password):
    assert password_problems(password) == []
    check_policy(password)


@pytest.mark.parametrize(
    ("password", "broken"),
    [
        ("Ab1!", ["长度至少 8 位"]),
        ("abcdefgh", ["至少 3 类"]),
        ("abcdefg1", ["至少 3 类"]),
        ("12345678", ["至少 3 类"]),
        ("ABCD!@#$", ["至少 3 类"]),
        ("ab1", ["长度至少 8 位", "至少 3 类"]),
        ("Ab1!" * 40, ["长度不能超过 128 位"]),
    ],
)
def test_weak_passwords_list_every_broken_rule_in_chinese(password, broken):
    problems = password_problems(password)
    assert len(problems) == len(broken)
    for problem, expected in zip(problems, broken, strict=True):
        assert expected in problem
    with pytest.raises(WeakPassword) as caught:
        service.set_password(user=User(username="a"), password=password)
    assert caught.value.problems == problems
    assert str(caught.value).startswith("密码不符合要求")


def test_policy_can_be_bypassed_only_when_asked():
    user = User(username="a")
    service.set_password(user=user, password="short", enforce_policy=False)
    assert service.check_password(user=user, password="short")
