"""SM4 field encryption under the platform's master key.

SM4-GCM (authenticated: a changed token is refused, never decrypted to garbage) from the
`cryptography` package's bundled OpenSSL. A token is text:

    sm4:v2:<key id>:<context tag>:<base64(nonce 12 || ciphertext || tag 16)>

<key id> = first 8 hex of SM3("bpm.sm4.key-id" || key): it names the master key without
revealing it, so keys can rotate (new key in SM4_MASTER_KEY, old ones in SM4_OLD_MASTER_KEYS)
and a wrong key is reported as such. The token is bound to where it belongs: the associated
data is the prefix plus a context string ("unit.contact_phone", "user_key.42"), so a token
copied into another column or row is refused; <context tag> (8 hex of SM3 of the context)
lets that refusal name the cause instead of "tampered". The prefix is authenticated too.

Version 1 tokens `sm4:<key id>:<base64>` (no context) still decrypt; `migrate.rewrap_existing`
(`flask crypto rewrap`) turns them into bound version 2 tokens.

Master key: SM4_MASTER_KEY (32 hex = 16 bytes). Without it (development, tests) a key is
generated once into the Flask instance folder (`sm4_master.key`, mode 0600); never logged.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from backend.crypto.sm3 import hmac_sm3, sm3

log = logging.getLogger(__name__)

PREFIX = "sm4"
V2 = "v2"
KEY_FILE_NAME = "sm4_master.key"
_NONCE = 12
_TAG = 16


class CryptoError(Exception):
    """A token that cannot be decrypted (wrong key, tampered, malformed) or a bad key setting."""


class WrongKeyError(CryptoError):
    pass


class TamperedTokenError(CryptoError):
    pass


class WrongContextError(CryptoError):
    """A valid token read in the wrong place (copied from another column or row)."""


def key_id(key: bytes) -> str:
    return sm3(b"bpm.sm4.key-id" + key)[:4].hex()


def parse_key(value: str, *, name: str = "SM4_MASTER_KEY") -> bytes:
    try:
        key = bytes.fromhex(value.strip())
    except ValueError as exc:
        raise CryptoError(f"{name} must be 32 hex digits (16 bytes)") from exc
    if len(key) != 16:
        raise CryptoError(f"{name} must be 32 hex digits (16 bytes), got {len(key)} bytes")
    return key


@dataclass(frozen=True)
class Keyring:
    """The current master key (encrypts) and older ones (decrypt only), by key id."""

    current: bytes
    old: tuple[bytes, ...] = ()
    by_id: dict[str, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        keys = {key_id(k): k for k in self.old}
        keys[key_id(self.current)] = self.current
        object.__setattr__(self, "by_id", keys)

    def __repr__(self) -> str:  # never the keys
        return f"Keyring(current={key_id(self.current)}, old={[key_id(k) for k in self.old]})"

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    def blind_index_key(self) -> bytes:
        # Derived, so one secret to keep; a master-key rotation must recompute the indexes.
        return hmac_sm3(self.current, b"bpm.blind-index")


def _read_or_create_key_file(path: str) -> bytes:
    try:
        with open(path, encoding="ascii") as fh:
            return parse_key(fh.read(), name=path)
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    value = secrets.token_hex(16)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        with open(path, encoding="ascii") as fh:
            return parse_key(fh.read(), name=path)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(value + "\n")
    log.warning("SM4_MASTER_KEY is not set: generated a development master key in %s", path)
    return bytes.fromhex(value)


_cache: dict[tuple, Keyring] = {}


def keyring_for(app) -> Keyring:
    """The app's keyring: SM4_MASTER_KEY / SM4_OLD_MASTER_KEYS from its config, else the key file."""
    configured = app.config.get("SM4_MASTER_KEY") or ""
    old = app.config.get("SM4_OLD_MASTER_KEYS") or ""
    cache_key = (configured, old, app.instance_path)
    ring = _cache.get(cache_key)
    if ring is None:
        if configured:
            current = parse_key(configured)
        else:
            current = _read_or_create_key_file(os.path.join(app.instance_path, KEY_FILE_NAME))
        olds = tuple(
            parse_key(v, name="SM4_OLD_MASTER_KEYS") for v in old.replace(";", ",").split(",") if v.strip()
        )
        ring = Keyring(current, olds)
        _cache[cache_key] = ring
    return ring


def current_keyring() -> Keyring:
    from flask import current_app

    return keyring_for(current_app)


def is_token(value: object) -> bool:
    if not isinstance(value, str) or not value.startswith(PREFIX + ":"):
        return False
    if value.startswith(f"{PREFIX}:{V2}:"):
        return value.count(":") == 4
    return value.count(":") == 2


def token_version(token: str) -> int:
    return 2 if token.startswith(f"{PREFIX}:{V2}:") else 1


def token_key_id(token: str) -> str:
    return token.split(":")[2 if token_version(token) == 2 else 1]


def context_tag(context: str) -> str:
    return sm3(b"bpm.sm4.context" + context.encode("utf-8"))[:4].hex()


def _aad(kid: str, tag: str, context: str) -> bytes:
    # Fixed-length fields before the context: no two (kid, context) pairs share these bytes.
    return f"{PREFIX}:{V2}:{kid}:{tag}:".encode() + context.encode("utf-8")


def encrypt_field(text: str, *, keyring: Keyring | None = None, context: str = "") -> str:
    """`text` as an SM4-GCM token under the current master key (a fresh nonce each time),
    bound to `context` (where it is stored): decrypting needs the same context."""
    if not isinstance(text, str):
        raise TypeError("encrypt_field takes str")
    ring = keyring or current_keyring()
    kid = ring.current_id
    tag = context_tag(context)
    nonce = os.urandom(_NONCE)
    enc = Cipher(algorithms.SM4(ring.current), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(_aad(kid, tag, context))
    body = enc.update(text.encode("utf-8")) + enc.finalize()
    return f"{PREFIX}:{V2}:{kid}:{tag}:" + base64.b64encode(nonce + body + enc.tag).decode("ascii")


def decrypt_field(token: str, *, keyring: Keyring | None = None, context: str = "") -> str:
    """The text of a token. Raises WrongKeyError when no configured key made it,
    WrongContextError when it was made for another `context` (moved from another column/row),
    TamperedTokenError when it was changed, CryptoError when it is no token.
    Version 1 tokens carry no context and decrypt whatever `context` is given."""
    if not is_token(token):
        raise CryptoError("not an SM4 field token")
    if token_version(token) == 2:
        _, _, kid, tag, b64 = token.split(":")
        if tag != context_tag(context):
            raise WrongContextError(
                f"SM4 field token belongs elsewhere: it was encrypted for another field than "
                f"{repr(context) if context else '(no context)'} (copied from another column or row)"
            )
        aad = _aad(kid, tag, context)
    else:
        _, kid, b64 = token.split(":")
        aad = f"{PREFIX}:{kid}".encode()
    ring = keyring or current_keyring()
    key = ring.by_id.get(kid)
    if key is None:
        raise WrongKeyError(
            f"field was encrypted under master key {kid}; configured keys are "
            f"{', '.join(sorted(ring.by_id))} (set SM4_MASTER_KEY / SM4_OLD_MASTER_KEYS)"
        )
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise TamperedTokenError("SM4 field token is damaged (base64)") from exc
    if len(raw) < _NONCE + _TAG:
        raise TamperedTokenError("SM4 field token is damaged (too short)")
    nonce, body, tag_bytes = raw[:_NONCE], raw[_NONCE:-_TAG], raw[-_TAG:]
    dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag_bytes)).decryptor()
    dec.authenticate_additional_data(aad)
    try:
        plain = dec.update(body) + dec.finalize()
    except InvalidTag as exc:
        raise TamperedTokenError("SM4 field token failed authentication (changed or forged)") from exc
    return plain.decode("utf-8")


def encrypt_field_v1(text: str, *, keyring: Keyring | None = None) -> str:
    """A version 1 token (no context): only for downgrading data to code older than contexts."""
    ring = keyring or current_keyring()
    kid = ring.current_id
    nonce = os.urandom(_NONCE)
    enc = Cipher(algorithms.SM4(ring.current), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(f"{PREFIX}:{kid}".encode())
    body = enc.update(text.encode("utf-8")) + enc.finalize()
    return f"{PREFIX}:{kid}:" + base64.b64encode(nonce + body + enc.tag).decode("ascii")


def needs_rewrap(token: str, *, keyring: Keyring | None = None, context: str = "") -> bool:
    """True for a version 1 token, one under an older master key, or one bound to another
    context than `context` (rewrap re-encrypts it; the last only when it decrypts)."""
    ring = keyring or current_keyring()
    if token_version(token) == 1:
        return True
    _, _, kid, tag, _ = token.split(":")
    return kid != ring.current_id or tag != context_tag(context)


def rewrap(value: str, *, keyring: Keyring | None = None, context: str = "") -> str:
    """`value` (plaintext, a version 1 token or an older key's token) as a current version 2
    token bound to `context`; a current token is returned unchanged (still checked)."""
    ring = keyring or current_keyring()
    if not is_token(value):
        return encrypt_field(value, keyring=ring, context=context)
    plain = decrypt_field(value, keyring=ring, context=context)
    if not needs_rewrap(value, keyring=ring, context=context):
        return value
    return encrypt_field(plain, keyring=ring, context=context)


def blind_index(value: str, *, keyring: Keyring | None = None) -> str:
    """Keyed HMAC-SM3 of a normalized value: equality search over an encrypted column."""
    ring = keyring or current_keyring()
    return hmac_sm3(ring.blind_index_key(), value.strip().encode("utf-8")).hex()
