#!/usr/bin/env python3
"""Standalone verifier of the platform's evidence ledger (存证) proofs.

    python verifier.py DOCUMENT proof.json

One file, Python 3.8+ standard library only: no platform, no network. It checks that
1. the document's SHA-256 (and SM3) are the ones recorded in the ledger leaf of the bundle,
2. the leaf, with the RFC 6962 inclusion proof (audit path), reaches the checkpoint's root,
3. the checkpoint's SM2 signature (SM2-with-SM3, GB/T 32918) verifies with the public key in the
   bundle; pass the platform's published key with --public-key to pin it.
Exit code 0 when every check passes, 1 when one fails, 2 when the input cannot be read.

`--public-key HEX` also requires the checkpoint to be signed by that key (the platform's
published one). `python verifier.py --self-test` checks the SM3 implementation against the standard's vectors;
`--pure-sm3` uses only this file's SM3 (by default OpenSSL's is used when this Python has it).
"""

import base64
import hashlib
import json
import struct
import sys

# --- SM3 (GB/T 32905-2016), pure Python ---------------------------------------------------

_IV = (0x7380166F, 0x4914B2B9, 0x172442D7, 0xDA8A0600, 0xA96F30BC, 0x163138AA, 0xE38DEE4D, 0xB0FB0E4E)
_M = 0xFFFFFFFF


def _rotl(x, n):
    n %= 32
    return ((x << n) | (x >> (32 - n))) & _M


_T = [_rotl(0x79CC4519 if j < 16 else 0x7A879D8A, j) for j in range(64)]


def _compress(v, block):
    w = list(struct.unpack(">16I", block))
    for j in range(16, 68):
        x = w[j - 16] ^ w[j - 9] ^ _rotl(w[j - 3], 15)
        x ^= _rotl(x, 15) ^ _rotl(x, 23)  # P1
        w.append(x ^ _rotl(w[j - 13], 7) ^ w[j - 6])
    a, b, c, d, e, f, g, h = v
    for j in range(64):
        a12 = _rotl(a, 12)
        ss1 = _rotl((a12 + e + _T[j]) & _M, 7)
        ss2 = ss1 ^ a12
        if j < 16:
            ff = a ^ b ^ c
            gg = e ^ f ^ g
        else:
            ff = (a & b) | (a & c) | (b & c)
            gg = (e & f) | (~e & g)
        tt1 = (ff + d + ss2 + (w[j] ^ w[j + 4])) & _M
        tt2 = (gg + h + ss1 + w[j]) & _M
        d, c, b, a = c, _rotl(b, 9), a, tt1
        h, g, f = g, _rotl(f, 19), e
        e = tt2 ^ _rotl(tt2, 9) ^ _rotl(tt2, 17)  # P0
    return tuple(x ^ y for x, y in zip(v, (a, b, c, d, e, f, g, h)))  # noqa: B905 (Python 3.8 has no strict=)


def sm3_pure(data):
    data = bytes(data)
    length = len(data) * 8
    padded = data + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack(">Q", length)
    v = _IV
    for i in range(0, len(padded), 64):
        v = _compress(v, padded[i : i + 64])
    return struct.pack(">8I", *v)


_USE_OPENSSL = True


def sm3(data):
    """SM3 digest; OpenSSL's when this Python has it (much faster), else the pure one above."""
    if not _USE_OPENSSL:
        return sm3_pure(data)
    try:
        return hashlib.new("sm3", data).digest()
    except (ValueError, TypeError):
        return sm3_pure(data)


HASHES = {"sm3": sm3, "sha256": lambda data: hashlib.sha256(data).digest()}


# --- RFC 6962 / RFC 9162 Merkle tree --------------------------------------------------------


def leaf_hash(alg, data):
    return HASHES[alg](b"\x00" + data)


def node_hash(alg, left, right):
    return HASHES[alg](b"\x01" + left + right)


def root_from_inclusion_proof(alg, index, size, leaf, path):
    """The root an audit path leads to (RFC 9162 §2.1.3.2), or None when the path cannot be one
    for this index and tree size."""
    if index < 0 or index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(alg, p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(alg, r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


# --- SM2 signature verification (GB/T 32918.2), recommended curve ---------------------------

_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
_A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
_GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
_GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
DEFAULT_SIGNER_ID = b"1234567812345678"


def _jacobian_double(p):
    x, y, z = p
    if not y:
        return (0, 0, 0)
    ysq = y * y % _P
    s = 4 * x * ysq % _P
    m = (3 * x * x + _A * pow(z, 4, _P)) % _P
    nx = (m * m - 2 * s) % _P
    ny = (m * (s - nx) - 8 * ysq * ysq) % _P
    return (nx, ny, 2 * y * z % _P)


def _jacobian_add(p, q):
    if not p[2]:
        return q
    if not q[2]:
        return p
    z1z1, z2z2 = p[2] * p[2] % _P, q[2] * q[2] % _P
    u1, u2 = p[0] * z2z2 % _P, q[0] * z1z1 % _P
    s1, s2 = p[1] * z2z2 * q[2] % _P, q[1] * z1z1 * p[2] % _P
    if u1 == u2:
        return _jacobian_double(p) if s1 == s2 else (0, 0, 0)
    h, r = (u2 - u1) % _P, (s2 - s1) % _P
    h2 = h * h % _P
    h3 = h * h2 % _P
    u1h2 = u1 * h2 % _P
    nx = (r * r - h3 - 2 * u1h2) % _P
    ny = (r * (u1h2 - nx) - s1 * h3) % _P
    return (nx, ny, h * p[2] * q[2] % _P)


def _multiply(k, point):
    result, addend = (0, 0, 0), (point[0], point[1], 1)
    while k:
        if k & 1:
            result = _jacobian_add(result, addend)
        addend = _jacobian_double(addend)
        k >>= 1
    return result


def _affine_x(p):
    return p[0] * pow(pow(p[2], 2, _P), _P - 2, _P) % _P if p[2] else None


def _public_point(public_key_hex):
    raw = bytes.fromhex(public_key_hex.strip())
    if len(raw) == 65 and raw[0] == 4:
        raw = raw[1:]
    if len(raw) != 64:
        raise ValueError("SM2 public key must be 64 bytes (x||y), optionally prefixed with 04")
    x, y = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    if (y * y - (x * x * x + _A * x + _B)) % _P:
        raise ValueError("SM2 public key is not a point of the curve")
    return x, y


def _signature_ints(signature):
    if len(signature) == 64:
        return int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    # DER: SEQUENCE { INTEGER r, INTEGER s }
    if len(signature) < 8 or signature[0] != 0x30:
        raise ValueError("SM2 signature is neither r||s nor DER")
    pos, values = 2, []
    if signature[1] & 0x80:
        pos += signature[1] & 0x7F
    for _ in range(2):
        if signature[pos] != 0x02:
            raise ValueError("SM2 signature DER is malformed")
        length = signature[pos + 1]
        values.append(int.from_bytes(signature[pos + 2 : pos + 2 + length], "big"))
        pos += 2 + length
    return values[0], values[1]


def sm2_z(public_key_hex, signer_id=DEFAULT_SIGNER_ID):
    x, y = _public_point(public_key_hex)
    entl = struct.pack(">H", len(signer_id) * 8)
    return sm3(b"".join([entl, signer_id] + [v.to_bytes(32, "big") for v in (_A, _B, _GX, _GY, x, y)]))


def sm2_verify(public_key_hex, message, signature, signer_id=DEFAULT_SIGNER_ID):
    """SM2-with-SM3: e = SM3(Z_A || M); valid when (e + x1) mod n == r, (x1, y1) = sG + tP."""
    try:
        point = _public_point(public_key_hex)
        r, s = _signature_ints(signature)
    except (ValueError, IndexError):
        return False
    if not (1 <= r < _N and 1 <= s < _N):
        return False
    t = (r + s) % _N
    if t == 0:
        return False
    e = int.from_bytes(sm3(sm2_z(public_key_hex, signer_id) + message), "big")
    x1 = _affine_x(_jacobian_add(_multiply(s, (_GX, _GY)), _multiply(t, point)))
    return x1 is not None and (e + x1) % _N == r


# --- the bundle -----------------------------------------------------------------------------


def _bytes_of(value):
    """Hex or base64 text → bytes (hash values are hex; signatures may be either)."""
    text = value.strip()
    try:
        return bytes.fromhex(text)
    except ValueError:
        return base64.b64decode(text, validate=True)


def verify_bundle(document, bundle):
    """[(ok, message)] for each check; the document and bundle match when all are ok."""
    results = []
    leaf, proof, checkpoint = bundle["leaf"], bundle["proof"], bundle["checkpoint"]
    alg = str(proof["hash_alg"]).lower()
    if alg not in HASHES:
        return [(False, f"unknown hash algorithm {alg!r}")]

    # 1. The document is the one the leaf records.
    leaf_data = leaf["data"].encode("utf-8")
    recorded = json.loads(leaf["data"])
    sha256_hex = hashlib.sha256(document).hexdigest()
    same = recorded.get("sha256") == sha256_hex
    results.append((same, f"document SHA-256 {sha256_hex} {_is(same)} the leaf's"))
    if recorded.get("sm3"):
        sm3_hex = sm3(document).hex()
        same = recorded["sm3"] == sm3_hex
        results.append((same, f"document SM3 {sm3_hex} {_is(same)} the leaf's"))

    # 2. The leaf is in the tree the checkpoint signs.
    computed_leaf = leaf_hash(alg, leaf_data)
    if leaf.get("hash"):
        same = computed_leaf.hex() == leaf["hash"].lower()
        results.append((same, f"leaf hash {_is(same)} the bundle's"))
    index, size = int(proof["leaf_index"]), int(proof["tree_size"])
    path = [bytes.fromhex(h) for h in proof["audit_path"]]
    root = root_from_inclusion_proof(alg, index, size, computed_leaf, path)
    reached = root is not None and root.hex() == checkpoint["root_hash"].lower()
    same_tree = int(checkpoint["tree_size"]) == size and str(checkpoint.get("hash_alg", alg)).lower() == alg
    verdict = "reaches" if reached and same_tree else "does NOT reach"
    message = f"inclusion proof of leaf {index} in a tree of {size} {verdict} the checkpoint root {checkpoint['root_hash']}"
    results.append((reached and same_tree, message))
    # 3. The checkpoint is signed.
    results.extend(_check_signature(checkpoint))
    return results


def _check_signature(checkpoint):
    signature, public_key, payload = (
        checkpoint.get("signature"),
        checkpoint.get("public_key"),
        checkpoint.get("payload"),
    )
    if not signature or not public_key or payload is None:
        return [(False, "checkpoint carries no signature")]
    message = payload.encode("utf-8")
    # The signed text must state what the bundle states: same ledger, tree size, root, algorithm.
    try:
        signed = json.loads(payload)
        says = (
            int(signed["tree_size"]) == int(checkpoint["tree_size"])
            and signed["root_hash"].lower() == checkpoint["root_hash"].lower()
            and signed["hash_alg"].lower() == str(checkpoint["hash_alg"]).lower()
            and signed.get("ledger") == checkpoint.get("ledger")
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        says = False
    results = [
        (says, "signed checkpoint text %s the tree size and root" % ("states" if says else "does NOT state"))
    ]
    signer_id = str(checkpoint.get("signer_id") or DEFAULT_SIGNER_ID.decode()).encode()
    try:
        signature_bytes = _bytes_of(signature)
    except ValueError:
        signature_bytes = b""
    valid = sm2_verify(public_key, message, signature_bytes, signer_id)
    results.append(
        (
            valid,
            "SM2 signature of the checkpoint {} with public key {}".format(
                "verifies" if valid else "does NOT verify", public_key
            ),
        )
    )
    return results


def _same_key(a, b):
    a, b = a.strip().lower(), b.strip().lower()
    return (a[2:] if len(a) == 130 else a) == (b[2:] if len(b) == 130 else b)


def _is(same):
    return "matches" if same else "does NOT match"


def self_test():
    vectors = [
        (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
        (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
    ]
    return all(sm3_pure(data).hex() == digest for data, digest in vectors)


def main(argv=None):
    global _USE_OPENSSL
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--pure-sm3" in argv:  # never OpenSSL's SM3, even where this Python has it
        argv.remove("--pure-sm3")
        _USE_OPENSSL = False
    pinned = None
    if "--public-key" in argv:  # the platform's published key: the checkpoint must be signed by it
        at = argv.index("--public-key")
        if at + 1 >= len(argv):
            print(__doc__.strip(), file=sys.stderr)
            return 2
        pinned = argv[at + 1]
        del argv[at : at + 2]
    if argv == ["--self-test"]:
        ok = self_test()
        print("SM3 self-test", "passed" if ok else "FAILED")
        return 0 if ok else 1
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        with open(argv[0], "rb") as f:
            document = f.read()
        with open(argv[1], "rb") as f:
            bundle = json.loads(f.read().decode("utf-8"))
        results = verify_bundle(document, bundle)
        if pinned is not None:
            same = _same_key(pinned, bundle["checkpoint"].get("public_key") or "")
            results.append((same, f"checkpoint public key {_is(same)} the given platform key"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"cannot verify: {exc}", file=sys.stderr)
        return 2
    for ok, message in results:
        print("[{}] {}".format("OK" if ok else "FAIL", message))
    passed = all(ok for ok, _ in results)
    evidence = bundle.get("evidence", {})
    if passed:
        print(
            "VERIFIED: deposited as {} at {} (ledger {}, leaf {})".format(
                evidence.get("document_type"),
                evidence.get("deposited_at"),
                bundle["leaf"].get("ledger"),
                bundle["proof"]["leaf_index"],
            )
        )
    else:
        print("NOT VERIFIED")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
