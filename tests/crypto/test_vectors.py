"""SM3, SM4 and SM2 against the standards' published examples, and SM2 against OpenSSL."""

import importlib
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from backend.crypto import SM2Key, hmac_sm3, sm2_verify, sm3
from backend.crypto.sm2 import (
    SM2_P256,
    Curve,
    parse_public_key,
    public_key_pem,
    signature_from_der,
    signature_to_der,
    z_a,
)

# The module, not the function of the same name that backend.crypto exports.
sm3_module = importlib.import_module("backend.crypto.sm3")

# GB/T 32905-2016 Appendix A.
SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SM3_ABCD16 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"

# GB/T 32918.2-2016 / GM/T 0003.2 Appendix A: the 256-bit example curve over F_p.
EXAMPLE_CURVE = Curve(
    name="gbt32918-example-fp256",
    p=0x8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3,
    a=0x787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498,
    b=0x63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A,
    gx=0x421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D,
    gy=0x0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2,
    n=0x8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7,
)


@pytest.fixture(params=[True, False], ids=["hashlib", "cryptography"])
def sm3_backend(request, monkeypatch):
    """Both ways SM3 is computed: the system OpenSSL through hashlib and the bundled one."""
    if request.param and not sm3_module._hashlib_has_sm3():
        pytest.skip("this OpenSSL has no SM3 in hashlib")
    monkeypatch.setattr(sm3_module, "_HASHLIB_SM3", request.param)


def test_sm3_standard_vectors(sm3_backend):
    assert sm3(b"abc").hex() == SM3_ABC
    assert sm3(b"abcd" * 16).hex() == SM3_ABCD16


def test_hmac_sm3_is_rfc2104_over_sm3(sm3_backend):
    key, msg = b"k" * 20, b"message"
    # RFC 2104 by hand: H((K ^ opad) || H((K ^ ipad) || m)), block size 64.
    block = key.ljust(64, b"\0")
    inner = sm3(bytes(b ^ 0x36 for b in block) + msg)
    assert hmac_sm3(key, msg) == sm3(bytes(b ^ 0x5C for b in block) + inner)
    assert hmac_sm3(key, msg) != hmac_sm3(key + b"x", msg)


def test_sm4_standard_vector():
    # GB/T 32907-2016 Appendix A, example 1.
    key = plain = bytes.fromhex("0123456789abcdeffedcba9876543210")
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    assert (enc.update(plain) + enc.finalize()).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm2_example_curve_signature_alice():
    """GB/T 32918.2 A.2: ID ALICE123@YAHOO.COM, message "message digest", the fixed k."""
    key = SM2Key(0x128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263, EXAMPLE_CURVE)
    assert key.public_point == (
        0x0AE4C7798AA0F119471BEE11825BE46202BB79E2A5844495E97C04FF4DF2548A,
        0x7C0240F88F1CD4E16352A73C17B7F16F07353E53A176D684A9FE0C6BB798E857,
    )
    assert (
        z_a(EXAMPLE_CURVE, b"ALICE123@YAHOO.COM", *key.public_point).hex().upper()
        == "F4A38489E32B45B6F876E3AC2168CA392362DC8F23459C1D1146FC3DBFB7BC9A"
    )
    signature = key.sign(
        b"message digest",
        user_id=b"ALICE123@YAHOO.COM",
        k=0x6CB28D99385C175C94F94E934817663FC176D925DD72B727260DBAAE1FB2F96F,
    )
    assert signature.hex().upper() == (
        "40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1"
        "6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7"
    )
    pub = key.public_key_hex
    assert sm2_verify(pub, b"message digest", signature, user_id=b"ALICE123@YAHOO.COM", curve=EXAMPLE_CURVE)
    assert not sm2_verify(pub, b"message digest", signature, curve=EXAMPLE_CURVE)  # other ID


def test_sm2_recommended_curve_signature():
    """GM/T 0003.5 example on sm2p256v1: ID 1234567812345678, message "message digest", fixed k."""
    key = SM2Key.from_hex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
    assert key.public_key_hex.upper() == (
        "04"
        "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
        "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
    )
    signature = key.sign(
        b"message digest", k=0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
    )
    assert signature.hex().upper() == (
        "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
        "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
    )
    assert sm2_verify(key.public_key_hex, b"message digest", signature)


def test_sm2_random_signatures_verify_and_alterations_fail():
    key = SM2Key.generate()
    other = SM2Key.generate()
    data = "同意立项".encode()
    signature = key.sign(data)
    assert len(signature) == 64
    assert signature != key.sign(data)  # a fresh k each time
    assert sm2_verify(key.public_key_hex, data, signature)
    assert not sm2_verify(key.public_key_hex, data + b".", signature)
    assert not sm2_verify(other.public_key_hex, data, signature)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not sm2_verify(key.public_key_hex, data, flipped)
    assert not sm2_verify(key.public_key_hex, data, signature[:63])
    assert not sm2_verify(key.public_key_hex, data, bytes(64))  # r = s = 0
    n = SM2_P256.n.to_bytes(32, "big")
    assert not sm2_verify(key.public_key_hex, data, n + signature[32:])  # r out of range
    assert not sm2_verify("not hex", data, signature)


def test_sm2_public_key_format_is_strict():
    key = SM2Key.from_hex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
    pub = key.public_key_hex
    assert parse_public_key(pub) == key.public_point
    with pytest.raises(ValueError, match="04"):
        parse_public_key(pub[2:])  # no "04": refused, never guessed (gmssl's lstrip trap)
    with pytest.raises(ValueError, match="04"):
        parse_public_key("05" + pub[2:])
    off_curve = pub[:-1] + ("0" if pub[-1] != "0" else "1")
    with pytest.raises(ValueError, match="curve"):
        parse_public_key(off_curve)
    assert not sm2_verify(off_curve, b"x", key.sign(b"x"))


def test_sm2_private_key_range_and_repr_hide_secret():
    with pytest.raises(ValueError):
        SM2Key(0)
    with pytest.raises(ValueError):
        SM2Key(SM2_P256.n - 1)  # 1 + d must be invertible
    key = SM2Key.generate()
    assert key.private_key_hex not in repr(key)
    assert SM2Key.from_hex(key.private_key_hex).public_key_hex == key.public_key_hex


def test_der_round_trip():
    key = SM2Key.generate()
    signature = key.sign(b"x")
    assert signature_from_der(signature_to_der(signature)) == signature


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")
def test_sm2_interoperates_with_openssl(tmp_path):
    """Our signatures verify in OpenSSL (SM3 with Z_A, default ID) and OpenSSL's in ours."""
    probe = subprocess.run(["openssl", "list", "-public-key-algorithms"], capture_output=True, text=True)
    if "SM2" not in probe.stdout:
        pytest.skip("this OpenSSL has no SM2")
    key = SM2Key.generate()
    (tmp_path / "pub.pem").write_text(public_key_pem(key.public_key_hex))
    (tmp_path / "msg").write_bytes("批复文件 2026-001".encode())
    (tmp_path / "sig").write_bytes(signature_to_der(key.sign((tmp_path / "msg").read_bytes())))
    verify = [
        "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-digest", "sm3",
        "-in", "msg", "-sigfile", "sig", "-pkeyopt", "distid:1234567812345678",
    ]  # fmt: skip
    ok = subprocess.run(verify, cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (tmp_path / "msg").write_bytes(b"altered")
    assert subprocess.run(verify, cwd=tmp_path, capture_output=True).returncode != 0

    # OpenSSL signs with a key whose private part we load from its text dump.
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", "k.pem"],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    (tmp_path / "msg").write_bytes(b"signed by openssl")
    subprocess.run(
        ["openssl", "pkeyutl", "-sign", "-inkey", "k.pem", "-rawin", "-digest", "sm3", "-in", "msg",
         "-out", "osig", "-pkeyopt", "distid:1234567812345678"],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    dump = subprocess.run(
        ["openssl", "pkey", "-in", "k.pem", "-text", "-noout"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    priv = "".join(dump.split("priv:")[1].split("pub:")[0].split()).replace(":", "")
    public_hex = SM2Key(int(priv, 16)).public_key_hex
    signature = signature_from_der((tmp_path / "osig").read_bytes())
    assert sm2_verify(public_hex, b"signed by openssl", signature)
    assert not sm2_verify(public_hex, b"signed by someone", signature)
