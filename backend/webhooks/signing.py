"""The one HMAC scheme of both directions:
`X-Signature: sha256=<hex HMAC-SHA256(secret, "<X-Timestamp>.<raw body>")>`."""

import hashlib
import hmac
import secrets

PREFIX = "sha256="


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return PREFIX + digest


def signature_matches(secret: str, timestamp: str, body: bytes, given: str | None) -> bool:
    """Constant-time: the comparison takes as long whatever prefix of the signature is right."""
    expected = sign(secret, timestamp, body)
    return hmac.compare_digest(expected.encode(), (given or "").strip().encode())


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {"X-Timestamp": str(timestamp), "X-Signature": sign(secret, timestamp, body)}
