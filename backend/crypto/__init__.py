"""Commercial cryptography (issue 7, 密评 GB/T 39786): SM3 hashing, SM4 field encryption, SM2 signatures.

Interface used across the platform (keep stable):
- `sm3(data) -> bytes`, `hmac_sm3(key, data) -> bytes`
- `encrypt_field(text, *, context="") -> str` / `decrypt_field(token, *, context="") -> str`:
  SM4-GCM under the master key (`SM4_MASTER_KEY`), tokens are text
  "sm4:v2:<key id>:<context tag>:<base64>" so keys can rotate; `context` (where the token is
  stored, e.g. "unit.contact_phone") is authenticated: a token copied elsewhere is refused.
- `SM2Key` (`.generate()`, `.sign(data)`, `.public_key_hex`), `sm2_verify(public_key_hex, data, sig)`
- `platform_key()`: the platform's signing key; `user_key(session=, user=)`: a user's key,
  created on first use, private part stored SM4-encrypted.
"""

from backend.crypto.fields import EncryptedText
from backend.crypto.keys import platform_key, user_key
from backend.crypto.sm2 import SM2Key, sm2_verify
from backend.crypto.sm3 import hmac_sm3, sm3
from backend.crypto.sm4 import CryptoError, decrypt_field, encrypt_field

__all__ = [
    "CryptoError",
    "EncryptedText",
    "SM2Key",
    "decrypt_field",
    "encrypt_field",
    "hmac_sm3",
    "init_app",
    "platform_key",
    "sm2_verify",
    "sm3",
    "user_key",
]


def init_app(app) -> None:
    from backend.crypto import cli, fields, models, views  # noqa: F401  (models: the table)
    from backend.crypto.sm2 import SM2Key as _Key
    from backend.crypto.sm4 import parse_key

    # A malformed key is a start-up error, not a failure at the first encrypted read.
    if app.config.get("SM4_MASTER_KEY"):
        parse_key(app.config["SM4_MASTER_KEY"])
    for old in (app.config.get("SM4_OLD_MASTER_KEYS") or "").replace(";", ",").split(","):
        if old.strip():
            parse_key(old, name="SM4_OLD_MASTER_KEYS")
    if app.config.get("PLATFORM_SM2_KEY"):
        try:
            _Key.from_hex(app.config["PLATFORM_SM2_KEY"])
        except ValueError as exc:
            raise CryptoError(f"PLATFORM_SM2_KEY is not a valid SM2 private key: {exc}") from None
    app.register_blueprint(views.bp)
    app.register_blueprint(cli.bp)
    app.jinja_env.filters["mask_phone"] = fields.mask_phone
    app.jinja_env.filters["mask_id_card"] = fields.mask_id_card
    app.jinja_env.filters["mask_bank_account"] = fields.mask_bank_account
    app.jinja_env.filters["mask"] = fields.mask
