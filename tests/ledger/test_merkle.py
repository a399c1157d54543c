"""RFC 6962 Merkle tree against the Certificate Transparency test vectors (SHA-256),
as published by transparency-dev/merkle (testonly/constants.go, proof/verify_test.go)."""

import pytest

from backend.ledger import merkle

LEAVES = [
    bytes.fromhex(x)
    for x in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
LEAF_HASHES = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
]
# (leaf index counted from 1 as in the vectors, tree size, audit path)
INCLUSION = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        2,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
SHA = "sha256"


def hashes(n):
    return [merkle.leaf_hash(d, SHA) for d in LEAVES[:n]]


def test_leaf_hashes():
    assert [merkle.leaf_hash(d, SHA).hex() for d in LEAVES] == LEAF_HASHES


@pytest.mark.parametrize("size", range(9))
def test_roots_for_every_size(size):
    assert merkle.root(hashes(size), SHA).hex() == ROOTS[size]
    compact = merkle.CompactRange(SHA)
    for h in hashes(size):
        compact.append(h)
    assert compact.root().hex() == ROOTS[size]


@pytest.mark.parametrize(("leaf", "size", "path"), INCLUSION)
def test_inclusion_proofs(leaf, size, path):
    proof = merkle.inclusion_proof(hashes(size), leaf - 1, SHA)
    assert [p.hex() for p in proof] == path
    root = bytes.fromhex(ROOTS[size])
    leaf_hash = merkle.leaf_hash(LEAVES[leaf - 1], SHA)
    assert merkle.verify_inclusion(leaf_hash, leaf - 1, size, proof, root, SHA)
    # Corruptions from the reference suite must all be refused.
    wrong = [
        (leaf_hash, leaf - 2, size, proof, root),
        (leaf_hash, leaf, size, proof, root),
        (leaf_hash, (leaf - 1) ^ 2, size, proof, root),
        (leaf_hash, leaf - 1, size * 2, proof, root),
        (leaf_hash, leaf - 1, size // 2, proof, root),
        (b"WrongLeaf", leaf - 1, size, proof, root),
        (leaf_hash, leaf - 1, size, proof, bytes.fromhex(ROOTS[0])),
        (leaf_hash, leaf - 1, size, [*proof, b""], root),
        (leaf_hash, leaf - 1, size, [*proof, root], root),
        (leaf_hash, leaf - 1, size, [b"", *proof], root),
        (leaf_hash, leaf - 1, size, [root, *proof], root),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        wrong.append((leaf_hash, leaf - 1, size, flipped, root))
    if proof:
        wrong.append((leaf_hash, leaf - 1, size, proof[:-1], root))
    for args in wrong:
        assert not merkle.verify_inclusion(*args, SHA), args


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs(old, new, path):
    proof = merkle.consistency_proof(hashes(new), old, SHA)
    assert [p.hex() for p in proof] == path
    r1, r2 = bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new])
    assert merkle.verify_consistency(old, new, proof, r1, r2, SHA)
    if not proof:
        return
    wrong = [
        (old - 1, new, proof, r1, r2),
        (old + 1, new, proof, r1, r2),
        (old ^ 2, new, proof, r1, r2),
        (old, new * 2, proof, r1, r2),
        (old, new // 2, proof, r1, r2),
        (old, new, proof, b"WrongRoot", r2),
        (old, new, proof, r1, b"WrongRoot"),
        (old, new, proof, r2, r1),
        (old, new, [], r1, r2),
        (old, new, [*proof, b""], r1, r2),
        (old, new, [*proof, r1], r1, r2),
        (old, new, [b"", *proof], r1, r2),
        (old, new, [proof[0], *proof], r1, r2),
        (old, new, proof[:-1], r1, r2),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        wrong.append((old, new, flipped, r1, r2))
    for args in wrong:
        assert not merkle.verify_consistency(*args, SHA), args


def test_every_proof_of_every_size_verifies_with_sm3():
    data = [f"leaf {i}".encode() for i in range(37)]
    leaves = [merkle.leaf_hash(d) for d in data]
    for n in range(1, len(leaves) + 1):
        root = merkle.root(leaves[:n])
        for i in range(n):
            assert merkle.verify_inclusion(leaves[i], i, n, merkle.inclusion_proof(leaves[:n], i), root)
        for m in range(0, n + 1):
            proof = merkle.consistency_proof(leaves[:n], m)
            assert merkle.verify_consistency(m, n, proof, merkle.root(leaves[:m]), root)
    assert merkle.leaf_hash(b"x") != merkle.leaf_hash(b"x", SHA)


def test_unknown_algorithm_refused():
    with pytest.raises(ValueError):
        merkle.leaf_hash(b"", "md5")
