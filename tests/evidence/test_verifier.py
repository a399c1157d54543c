"""The standalone verifier's own algorithms: SM3 against GB/T 32905's vectors, SM2 verification
against the platform's signer, RFC 6962 inclusion against the CT vectors."""

import hashlib

import pytest

from backend.crypto import SM2Key
from backend.evidence import verifier
from backend.ledger import merkle


@pytest.mark.parametrize(
    ("message", "digest"),
    [
        (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
        (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
    ],
)
def test_pure_sm3_standard_vectors(message, digest):
    assert verifier.sm3_pure(message).hex() == digest


def test_pure_sm3_agrees_with_openssl_across_padding_boundaries():
    for n in (0, 1, 54, 55, 56, 63, 64, 65, 119, 120, 1000):
        data = bytes(range(256)) * 4
        assert verifier.sm3_pure(data[:n]) == hashlib.new("sm3", data[:n]).digest(), n


def test_self_test_flag():
    assert verifier.main(["--self-test"]) == 0


def test_sm2_verifies_the_platform_signer_and_refuses_changes():
    key = SM2Key.generate()
    message = b'{"ledger":"evidence","tree_size":3}'
    signature = key.sign(message)
    assert verifier.sm2_verify(key.public_key_hex, message, signature)
    assert not verifier.sm2_verify(key.public_key_hex, message + b" ", signature)
    flipped = bytearray(signature)
    flipped[40] ^= 1
    assert not verifier.sm2_verify(key.public_key_hex, message, bytes(flipped))
    assert not verifier.sm2_verify(SM2Key.generate().public_key_hex, message, signature)
    assert not verifier.sm2_verify(key.public_key_hex, message, b"\x00" * 64)


# Certificate Transparency test vectors (the 8 leaves of RFC 6962's reference tests).
CT_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOT_8 = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


def test_inclusion_verification_matches_the_ledger_core_on_ct_vectors():
    hashes = [verifier.leaf_hash("sha256", d) for d in CT_LEAVES]
    assert merkle.root(hashes, "sha256").hex() == CT_ROOT_8
    for size in range(1, 9):
        root = merkle.root(hashes[:size], "sha256")
        for index in range(size):
            path = merkle.inclusion_proof(hashes[:size], index, "sha256")
            assert verifier.root_from_inclusion_proof("sha256", index, size, hashes[index], path) == root
            if path:
                wrong = [path[0][:-1] + bytes([path[0][-1] ^ 1]), *path[1:]]
                assert verifier.root_from_inclusion_proof("sha256", index, size, hashes[index], wrong) != root
    # A path too long or an index outside the tree is no proof.
    path = merkle.inclusion_proof(hashes, 2, "sha256")
    assert verifier.root_from_inclusion_proof("sha256", 2, 8, hashes[2], [*path, hashes[0]]) is None
    assert verifier.root_from_inclusion_proof("sha256", 8, 8, hashes[2], path) is None
