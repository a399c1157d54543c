"""SM3 (GB/T 32905-2016) hashing and HMAC-SM3.

OpenSSL's SM3 through hashlib when the system library has it, otherwise the one bundled in
the `cryptography` wheel (which always has it): no hand-written hash on the hot path.
"""

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac


def _hashlib_has_sm3() -> bool:
    try:
        hashlib.new("sm3")
    except ValueError:
        return False
    return True


_HASHLIB_SM3 = _hashlib_has_sm3()


def sm3(data: bytes) -> bytes:
    """The 32-byte SM3 digest of `data`."""
    if _HASHLIB_SM3:
        return hashlib.new("sm3", data).digest()
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    """HMAC (RFC 2104) with SM3: 32 bytes."""
    if _HASHLIB_SM3:
        return hmac.new(key, data, lambda *a: hashlib.new("sm3", *a)).digest()
    mac = crypto_hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()
