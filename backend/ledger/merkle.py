"""RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs.

Leaf hash H(0x00 || d), interior node H(0x01 || left || right); the tree over n leaves splits
at the largest power of two below n. The hash is selectable: "sm3" (default, GB/T 32905) or
"sha256" (the Certificate Transparency test vectors). Pure functions over lists of leaf hashes,
so the storage layer and the standalone verifier agree on one definition.
"""

import hashlib
from collections.abc import Callable, Sequence

ALGORITHMS = ("sm3", "sha256")
DEFAULT_ALG = "sm3"


class ProofError(ValueError):
    """A proof is malformed or does not lead to the expected root."""


def hash_function(alg: str = DEFAULT_ALG) -> Callable[[bytes], bytes]:
    if alg == "sha256":
        return lambda data: hashlib.sha256(data).digest()
    if alg == "sm3":
        try:
            hashlib.new("sm3")
        except ValueError:  # OpenSSL without SM3: the platform's (cryptography's) SM3
            from backend.crypto.sm3 import sm3

            return sm3
        return lambda data: hashlib.new("sm3", data).digest()
    raise ValueError(f"unknown hash algorithm {alg!r}; one of {', '.join(ALGORITHMS)}")


def leaf_hash(data: bytes, alg: str = DEFAULT_ALG) -> bytes:
    return hash_function(alg)(b"\x00" + data)


def node_hash(left: bytes, right: bytes, alg: str = DEFAULT_ALG) -> bytes:
    return hash_function(alg)(b"\x01" + left + right)


def empty_root(alg: str = DEFAULT_ALG) -> bytes:
    return hash_function(alg)(b"")


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaf_hashes: Sequence[bytes], alg: str = DEFAULT_ALG) -> bytes:
    """MTH over the given leaf hashes (level by level: a lone last node moves up unchanged,
    which yields exactly the RFC 6962 tree)."""
    if not leaf_hashes:
        return empty_root(alg)
    h = hash_function(alg)
    level = list(leaf_hashes)
    while len(level) > 1:
        nxt = [h(b"\x01" + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


class CompactRange:
    """Running roots while leaves are appended: the perfect subtrees' roots, biggest first.
    Lets one pass over the leaves check every checkpoint's root in O(n + k log n), and, saved
    as a checkpoint's frontier (one hash per set bit of the size), lets the next checkpoint
    continue from there reading only the leaves appended since."""

    def __init__(self, alg: str = DEFAULT_ALG):
        self.alg = alg
        self._h = hash_function(alg)
        self.size = 0
        self._nodes: list[tuple[int, bytes]] = []  # (number of leaves, hash)

    @classmethod
    def from_frontier(cls, size: int, hashes: Sequence[bytes], alg: str = DEFAULT_ALG) -> "CompactRange":
        """The range over `size` leaves whose perfect subtree roots are `hashes` (biggest first)."""
        widths = [1 << bit for bit in range(size.bit_length() - 1, -1, -1) if size >> bit & 1]
        if size < 0 or len(widths) != len(hashes):
            raise ProofError(f"a frontier of {size} leaves has {len(widths)} hashes, not {len(hashes)}")
        compact = cls(alg)
        compact.size = size
        compact._nodes = list(zip(widths, (bytes(h) for h in hashes), strict=True))
        return compact

    def frontier(self) -> list[bytes]:
        return [h for _, h in self._nodes]

    def extend(self, leaves: Sequence[bytes]) -> None:
        """Append many leaves; from empty, level by level (a full read costs one `root`)."""
        if self.size or len(leaves) < 2:
            for leaf in leaves:
                self.append(leaf)
            return
        n, lo = len(leaves), 0
        for bit in range(n.bit_length() - 1, -1, -1):
            if n >> bit & 1:
                self._nodes.append((1 << bit, root(leaves[lo : lo + (1 << bit)], self.alg)))
                lo += 1 << bit
        self.size = n

    def append(self, leaf: bytes) -> None:
        self.size += 1
        self._nodes.append((1, leaf))
        while len(self._nodes) >= 2 and self._nodes[-1][0] == self._nodes[-2][0]:
            (n, right), (_, left) = self._nodes.pop(), self._nodes.pop()
            self._nodes.append((2 * n, self._h(b"\x01" + left + right)))

    def root(self) -> bytes:
        if not self._nodes:
            return empty_root(self.alg)
        result = self._nodes[-1][1]
        for _, left in reversed(self._nodes[:-1]):
            result = self._h(b"\x01" + left + result)
        return result


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, alg: str = DEFAULT_ALG) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 §2.1.1: sibling hashes from the leaf up to the root."""
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ProofError(f"leaf index {index} outside a tree of size {n}")
    proof: list[bytes] = []
    lo, hi = 0, n
    # Walk down, collecting the sibling subtree of each step; reversed at the end (bottom-up).
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            proof.append(root(leaf_hashes[lo + k : hi], alg))
            hi = lo + k
        else:
            proof.append(root(leaf_hashes[lo : lo + k], alg))
            lo = lo + k
    return proof[::-1]


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, alg: str = DEFAULT_ALG) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 6962 §2.1.2 (n = len(leaf_hashes))."""
    n = len(leaf_hashes)
    if not 0 <= old_size <= n:
        raise ProofError(f"old size {old_size} outside 0..{n}")
    if old_size in (0, n):
        return []
    return _subproof(leaf_hashes, 0, n, old_size, True, alg)


def _subproof(leaves: Sequence[bytes], lo: int, hi: int, m: int, whole: bool, alg: str) -> list[bytes]:
    n = hi - lo
    if m == n:
        return [] if whole else [root(leaves[lo:hi], alg)]
    k = _split(n)
    if m <= k:
        return _subproof(leaves, lo, lo + k, m, whole, alg) + [root(leaves[lo + k : hi], alg)]
    return _subproof(leaves, lo + k, hi, m - k, False, alg) + [root(leaves[lo : lo + k], alg)]


def root_from_inclusion_proof(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], alg: str = DEFAULT_ALG
) -> bytes:
    """RFC 9162 §2.1.3.2: the root the proof leads to (ProofError if malformed)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} outside a tree of size {size}")
    h = hash_function(alg)
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ProofError("proof too long")
        if fn & 1 or fn == sn:
            r = h(b"\x01" + p + r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = h(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("proof too short")
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes, alg: str = DEFAULT_ALG
) -> bool:
    try:
        return root_from_inclusion_proof(leaf, index, size, proof, alg) == expected_root
    except ProofError:
        return False


def verify_consistency(
    old_size: int,
    new_size: int,
    proof: Sequence[bytes],
    old_root: bytes,
    new_root: bytes,
    alg: str = DEFAULT_ALG,
) -> bool:
    """RFC 9162 §2.1.4.2."""
    if old_size < 0 or new_size < old_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    h = hash_function(alg)
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = h(b"\x01" + c + fr)
            sr = h(b"\x01" + c + sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = h(b"\x01" + sr + c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
