"""API keys: create (the secret once), find by the secret, revoke, record use.

Keyword-only functions over a session; they flush, never commit. Messages are Chinese.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from backend.api.models import ApiKey
from backend.db import utcnow
from backend.org.models import Region
from backend.org.service import descendant_codes, get_user

# Operation groups a key may be given; the views name the one each operation needs.
SCOPES = (
    "processes:read",
    "instances:read",
    "instances:write",
    "tasks:read",
    "tasks:write",
    "messages:write",
    "projects:read",
    "contracts:read",
    "tickets:read",
    "funds:read",
    "funds:write",
    "schedule:read",
    "schedule:write",
)
TOKEN_PREFIX = "bpm_"
PREFIX_LENGTH = 12  # "bpm_" and 8 random characters: shown in lists, looked up by index
# last_used_at is written at most this often: a busy key must not write on every request.
TOUCH_INTERVAL = timedelta(minutes=1)


class ApiKeyInvalid(ValueError):
    """What is wrong with a key to create, by field."""

    def __init__(self, errors: dict):
        self.errors = errors  # field -> lazy message, in the language of whoever reads it
        super().__init__("; ".join(str(m) for m in errors.values()))


class ApiKeyNotFound(LookupError):
    def __init__(self, key_id: int):
        super().__init__(f"API 密钥不存在: {key_id}")


@dataclass(frozen=True)
class Refusal:
    """Why a presented secret is not accepted (one of missing, unknown, revoked, expired)."""

    reason: str


def hash_secret(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(
    *,
    session,
    name: str,
    owner: str,
    scopes: list[str],
    region_code: str,
    created_by: str | None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its secret. The secret is not stored: the caller shows it once."""
    now = now or utcnow()
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = _l("请填写密钥名称")
    elif len(name) > 120:
        errors["name"] = _l("密钥名称不能超过 120 字")
    person = get_user(session=session, username=(owner or "").strip())
    if person is None or not person.active:
        errors["owner"] = _l("用户不存在或已停用: %(owner)s", owner=owner)
    unknown = [s for s in scopes if s not in SCOPES]
    if not scopes:
        errors["scopes"] = _l("请至少选择一个权限范围")
    elif unknown:
        errors["scopes"] = _l("未知的权限范围: %(scopes)s", scopes=", ".join(unknown))
    if not region_code or session.get(Region, region_code) is None:
        errors["region_code"] = _l("行政区划不存在: %(code)s", code=region_code)
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= now):
        errors["expires_at"] = _l("过期时间须晚于现在")
    if errors:
        raise ApiKeyInvalid(errors)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        owner=person.username,
        prefix=token[:PREFIX_LENGTH],
        secret_hash=hash_secret(token),
        scopes=[s for s in SCOPES if s in scopes],
        region_code=region_code,
        created_at=now,
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return key, token


def list_keys(*, session) -> list[ApiKey]:
    return list(session.scalars(sa.select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())))


def revoke_key(*, session, key_id: int, actor: str, now: datetime | None = None) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise ApiKeyNotFound(key_id)
    if key.revoked_at is None:
        key.revoked_at, key.revoked_by = now or utcnow(), actor
        session.flush()
    return key


def find_key(*, session, token: str | None, now: datetime | None = None) -> ApiKey | Refusal:
    """The key a secret belongs to, or why it is refused. Compared in constant time."""
    if not token:
        return Refusal("missing")
    if not token.startswith(TOKEN_PREFIX) or len(token) <= PREFIX_LENGTH:
        return Refusal("unknown")
    key = session.scalar(sa.select(ApiKey).where(ApiKey.prefix == token[:PREFIX_LENGTH]))
    # Hash even when no key has the prefix: the time taken says nothing about which keys exist.
    presented = hash_secret(token)
    if key is None or not hmac.compare_digest(presented, key.secret_hash):
        return Refusal("unknown")
    if key.revoked_at is not None:
        return Refusal("revoked")
    if key.expires_at is not None and key.expires_at <= (now or utcnow()):
        return Refusal("expired")
    return key


def touch_statement(key_id: int, now: datetime):
    """The UPDATE recording a use: matches no row when the last one is under a minute old."""
    return (
        sa.update(ApiKey)
        .where(
            ApiKey.id == key_id,
            sa.or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - TOUCH_INTERVAL),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def needs_touch(key: ApiKey, now: datetime) -> bool:
    return key.last_used_at is None or key.last_used_at < now - TOUCH_INTERVAL


def region_codes(*, session, region_code: str) -> set[str]:
    """The region and every region under it."""
    return descendant_codes(session=session, code=region_code)
