"""SM2 digital signatures (GM/T 0003-2012 / GB/T 32918.2-2016) over plain Python integers.

Why our own ~150 lines and not a package: `cryptography` has no SM2; the pure-Python `gmssl`
strips the public key's "04" with `str.lstrip` (eating leading zero digits of X) and has mode
defaults that bite; the others are thin, young or need a C library. Signatures are small and
rare here (countersigns, documents, audit checkpoints), so Python ints are fast enough, and the
code is tested against the standard's published examples (tests/crypto/test_sm2.py).

Formats: private key 32 bytes hex; public key "04" || X || Y (65 bytes, 130 hex, uncompressed,
GM/T 0009); signature r || s (64 bytes). The signer's ID defaults to GM/T 0009's
"1234567812345678". Not constant-time (Python ints): keep keys on the server, never sign for
strangers with timing exposed at scale.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from backend.crypto.sm3 import sm3

DEFAULT_USER_ID = b"1234567812345678"


@dataclass(frozen=True)
class Curve:
    """A short Weierstrass curve y² = x³ + ax + b over F_p with base point G of prime order n."""

    name: str
    p: int
    a: int
    b: int
    gx: int
    gy: int
    n: int

    @property
    def size(self) -> int:
        return (self.p.bit_length() + 7) // 8

    def contains(self, x: int, y: int) -> bool:
        return (
            0 <= x < self.p and 0 <= y < self.p and (y * y - (x * x * x + self.a * x + self.b)) % self.p == 0
        )


# GM/T 0003.5 recommended curve (sm2p256v1).
SM2_P256 = Curve(
    name="sm2p256v1",
    p=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF,
    a=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC,
    b=0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93,
    gx=0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    gy=0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
    n=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123,
)

_INFINITY = (0, 1, 0)  # Jacobian (X, Y, Z) with Z = 0


def _double(c: Curve, pt):
    x, y, z = pt
    if z == 0 or y == 0:
        return _INFINITY
    p = c.p
    yy = y * y % p
    s = 4 * x * yy % p
    zz = z * z % p
    m = (3 * x * x + c.a * zz * zz) % p
    x3 = (m * m - 2 * s) % p
    y3 = (m * (s - x3) - 8 * yy * yy) % p
    z3 = 2 * y * z % p
    return (x3, y3, z3)


def _add(c: Curve, p1, p2):
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == 0:
        return p2
    if z2 == 0:
        return p1
    p = c.p
    z1z1 = z1 * z1 % p
    z2z2 = z2 * z2 % p
    u1 = x1 * z2z2 % p
    u2 = x2 * z1z1 % p
    s1 = y1 * z2 * z2z2 % p
    s2 = y2 * z1 * z1z1 % p
    if u1 == u2:
        return _double(c, p1) if s1 == s2 else _INFINITY
    h = (u2 - u1) % p
    r = (s2 - s1) % p
    hh = h * h % p
    hhh = h * hh % p
    v = u1 * hh % p
    x3 = (r * r - hhh - 2 * v) % p
    y3 = (r * (v - x3) - s1 * hhh) % p
    z3 = h * z1 * z2 % p
    return (x3, y3, z3)


def _multiply(c: Curve, k: int, x: int, y: int):
    result = _INFINITY
    addend = (x, y, 1)
    while k:
        if k & 1:
            result = _add(c, result, addend)
        addend = _double(c, addend)
        k >>= 1
    return result


def _affine(c: Curve, pt) -> tuple[int, int] | None:
    x, y, z = pt
    if z == 0:
        return None
    zinv = pow(z, -1, c.p)
    zinv2 = zinv * zinv % c.p
    return (x * zinv2 % c.p, y * zinv2 * zinv % c.p)


def _int_bytes(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big")


def z_a(curve: Curve, user_id: bytes, x: int, y: int) -> bytes:
    """Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A) (GB/T 32918.2, 5.5)."""
    if len(user_id) * 8 > 0xFFFF:
        raise ValueError("SM2 user ID too long")
    size = curve.size
    return sm3(
        (len(user_id) * 8).to_bytes(2, "big")
        + user_id
        + b"".join(_int_bytes(v, size) for v in (curve.a, curve.b, curve.gx, curve.gy, x, y))
    )


def parse_public_key(public_key_hex: str, curve: Curve = SM2_P256) -> tuple[int, int]:
    """'04' || X || Y, exactly. A point not on the curve is refused (invalid-curve attacks)."""
    size = curve.size
    try:
        raw = bytes.fromhex(public_key_hex)
    except ValueError as exc:
        raise ValueError("SM2 public key is not hex") from exc
    if len(raw) != 1 + 2 * size or raw[0] != 0x04:
        raise ValueError(f"SM2 public key must be 04 || X || Y ({1 + 2 * size} bytes)")
    x = int.from_bytes(raw[1 : 1 + size], "big")
    y = int.from_bytes(raw[1 + size :], "big")
    if not curve.contains(x, y):
        raise ValueError("SM2 public key is not a point on the curve")
    return x, y


def format_public_key(x: int, y: int, curve: Curve = SM2_P256) -> str:
    return "04" + _int_bytes(x, curve.size).hex() + _int_bytes(y, curve.size).hex()


class SM2Key:
    """An SM2 private key (and its public key)."""

    def __init__(self, private_key: int, curve: Curve = SM2_P256):
        if not 1 <= private_key <= curve.n - 2:
            raise ValueError("SM2 private key out of range [1, n-2]")
        self.curve = curve
        self._d = private_key
        point = _affine(curve, _multiply(curve, private_key, curve.gx, curve.gy))
        assert point is not None
        self.public_point = point

    def __repr__(self) -> str:  # never show the private key
        return f"SM2Key(public_key_hex={self.public_key_hex!r})"

    @classmethod
    def generate(cls, curve: Curve = SM2_P256) -> SM2Key:
        return cls(secrets.randbelow(curve.n - 2) + 1, curve)

    @classmethod
    def from_hex(cls, private_key_hex: str, curve: Curve = SM2_P256) -> SM2Key:
        raw = bytes.fromhex(private_key_hex.strip())
        if len(raw) != curve.size:
            raise ValueError(f"SM2 private key must be {curve.size} bytes hex")
        return cls(int.from_bytes(raw, "big"), curve)

    @property
    def private_key_hex(self) -> str:
        return _int_bytes(self._d, self.curve.size).hex()

    @property
    def public_key_hex(self) -> str:
        return format_public_key(*self.public_point, self.curve)

    def sign(self, data: bytes, *, user_id: bytes = DEFAULT_USER_ID, k: int | None = None) -> bytes:
        """r || s over SM3(Z_A || data). `k` only for the standard's fixed-k test vectors."""
        c = self.curve
        e = int.from_bytes(sm3(z_a(c, user_id, *self.public_point) + data), "big")
        while True:
            kk = k if k is not None else secrets.randbelow(c.n - 1) + 1
            point = _affine(c, _multiply(c, kk, c.gx, c.gy))
            assert point is not None
            r = (e + point[0]) % c.n
            if r == 0 or r + kk == c.n:
                if k is not None:
                    raise ValueError("fixed k gives a degenerate signature")
                continue
            s = pow(1 + self._d, -1, c.n) * (kk - r * self._d) % c.n
            if s == 0:
                if k is not None:
                    raise ValueError("fixed k gives a degenerate signature")
                continue
            return _int_bytes(r, c.size) + _int_bytes(s, c.size)


def sm2_verify(
    public_key_hex: str,
    data: bytes,
    signature: bytes,
    *,
    user_id: bytes = DEFAULT_USER_ID,
    curve: Curve = SM2_P256,
) -> bool:
    """True when `signature` (r || s) is `public_key_hex`'s signature of `data`; False otherwise,
    also for a malformed key or signature (verification never raises on bad input)."""
    try:
        px, py = parse_public_key(public_key_hex, curve)
    except ValueError:
        return False
    size = curve.size
    if not isinstance(signature, bytes | bytearray) or len(signature) != 2 * size:
        return False
    r = int.from_bytes(signature[:size], "big")
    s = int.from_bytes(signature[size:], "big")
    n = curve.n
    if not (1 <= r < n and 1 <= s < n):
        return False
    t = (r + s) % n
    if t == 0:
        return False
    e = int.from_bytes(sm3(z_a(curve, user_id, px, py) + data), "big")
    point = _affine(curve, _add(curve, _multiply(curve, s, curve.gx, curve.gy), _multiply(curve, t, px, py)))
    if point is None:
        return False
    return (e + point[0]) % n == r


def signature_to_der(signature: bytes) -> bytes:
    """r || s as the DER SEQUENCE { r INTEGER, s INTEGER } of GM/T 0009 (for OpenSSL and others)."""
    half = len(signature) // 2

    def integer(value: bytes) -> bytes:
        body = value.lstrip(b"\x00") or b"\x00"
        if body[0] & 0x80:
            body = b"\x00" + body
        return b"\x02" + bytes([len(body)]) + body

    content = integer(signature[:half]) + integer(signature[half:])
    return b"\x30" + bytes([len(content)]) + content


# SubjectPublicKeyInfo header for id-ecPublicKey (1.2.840.10045.2.1) with sm2p256v1 (1.2.156.10197.1.301).
_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")


def public_key_pem(public_key_hex: str) -> str:
    """The sm2p256v1 public key as a PEM SubjectPublicKeyInfo (what OpenSSL and GmSSL read)."""
    import base64

    parse_public_key(public_key_hex)
    body = base64.b64encode(_SPKI_PREFIX + bytes.fromhex(public_key_hex)).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def signature_from_der(der: bytes, curve: Curve = SM2_P256) -> bytes:
    """The DER SEQUENCE { r, s } of GM/T 0009 (OpenSSL's output) as r || s."""
    size = curve.size
    if len(der) < 8 or der[0] != 0x30 or der[1] != len(der) - 2:
        raise ValueError("not a DER SM2 signature")
    out, pos = b"", 2
    for _ in range(2):
        if der[pos] != 0x02:
            raise ValueError("not a DER SM2 signature")
        length = der[pos + 1]
        value = int.from_bytes(der[pos + 2 : pos + 2 + length], "big")
        if value >= 1 << (8 * size):
            raise ValueError("DER SM2 signature value too large")
        out += _int_bytes(value, size)
        pos += 2 + length
    if pos != len(der):
        raise ValueError("trailing bytes after DER SM2 signature")
    return out
