"""Content-addressed file storage: every blob lives once at FILES_DIR/ab/cd/<sha256>.

An upload streams into a temporary file inside FILES_DIR while it is hashed, counted and
checked for UTF-8; its type is then sniffed from the content. Only an accepted file is
renamed into place (atomic, same file system); a refused one leaves nothing behind.
The blob is placed before its row is written, so a row never points at a missing blob; a
unit of work that rolls back afterwards leaves an unreferenced blob, harmless and
reclaimable, never a dangling row.
"""

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy.exc import IntegrityError

from backend.db import utcnow
from backend.files.errors import FileMissing, FileRefused
from backend.files.models import StoredFile
from backend.files.sniff import (
    DOCX,
    EXTENSIONS,
    GIF,
    HEAD_BYTES,
    JPEG,
    LABELS,
    PDF,
    PNG,
    WEBP,
    TextProbe,
    sniff,
)

MAX_BYTES = 50 * 1024 * 1024
# What an application (申报材料) may attach: documents and scans.
DOCUMENT_TYPES = frozenset({PDF, JPEG, PNG, DOCX})
# Photos from a phone on site.
IMAGE_TYPES = frozenset({JPEG, PNG, GIF, WEBP})

_CHUNK_BYTES = 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")
_NAME_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")


def store(
    *,
    session,
    data: bytes | BinaryIO,
    declared_name: str,
    allowed_types: set[str] | frozenset[str] | None = None,
    max_bytes: int | None = None,
) -> StoredFile:
    """Store an upload once by its SHA-256 and return its row (the existing one for a file
    stored before). Raises FileRefused for a bad name, an empty or oversized file, a name
    whose extension contradicts the content, or a type not in `allowed_types`
    (default: PDF, JPEG, PNG, DOCX; max 50 MiB)."""
    allowed = DOCUMENT_TYPES if allowed_types is None else frozenset(allowed_types)
    limit = MAX_BYTES if max_bytes is None else max_bytes
    name, extension = _name_and_extension(declared_name)

    root = files_dir()
    root.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=root, prefix=".upload-", suffix=".part")
    temp = Path(temp_name)
    try:
        sha256, size, head, is_text = _receive(fd, _chunks(data), limit=limit, name=name)
        if size == 0:
            raise FileRefused("empty", f"文件 {name} 是空文件", declared_name=name, size=0)
        content_type = sniff(temp, head=head, size=size, is_text=is_text)
        _check_extension(name, extension, content_type, size)
        if content_type not in allowed:
            raise FileRefused(
                "type_not_allowed",
                f"不接受{LABELS[content_type]} ({name}); 允许的类型: {_labels(allowed)}",
                declared_name=name,
                content_type=content_type,
                size=size,
                allowed_types=sorted(allowed),
            )
        _place(temp, path_of(sha256), size)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return _row(session, sha256=sha256, size=size, content_type=content_type)


def path_of(sha256: str) -> Path:
    """Where the blob with this hash lives: FILES_DIR/ab/cd/<sha256>."""
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a lowercase SHA-256 hex digest: {sha256!r}")
    return files_dir() / sha256[:2] / sha256[2:4] / sha256


def open_file(*, sha256: str) -> BinaryIO:
    """The stored bytes, opened for reading; the caller closes it."""
    try:
        return open(path_of(sha256), "rb")  # noqa: SIM115  (handed to the caller)
    except FileNotFoundError:
        raise FileMissing(sha256) from None


def files_dir() -> Path:
    return Path(current_app.config["FILES_DIR"])


def _name_and_extension(declared_name: str) -> tuple[str, str]:
    """The base name a person sees (browsers may send a full Windows path) and its
    lower-case extension ('' without one)."""
    base = re.split(r"[\\/]", declared_name or "")[-1].strip().rstrip(". ")
    if not base or len(base) > 255 or _NAME_CONTROLS.search(base):
        raise FileRefused("bad_name", "文件名无效", declared_name=declared_name)
    _, dot, extension = base.rpartition(".")
    return base, f".{extension.lower()}" if dot else ""


def _chunks(data: bytes | BinaryIO) -> Iterator[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data)
        for start in range(0, len(view), _CHUNK_BYTES):
            yield bytes(view[start : start + _CHUNK_BYTES])
        return
    while chunk := data.read(_CHUNK_BYTES):
        yield chunk


def _receive(fd: int, chunks: Iterator[bytes], *, limit: int, name: str) -> tuple[str, int, bytes, bool]:
    """Write the chunks to the open temp file; stop at the first byte over the limit."""
    digest = hashlib.sha256()
    probe = TextProbe()
    head = bytearray()
    size = 0
    with os.fdopen(fd, "wb") as out:
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise FileRefused(
                    "too_large",
                    f"文件 {name} 超过大小上限 {_human_size(limit)}",
                    declared_name=name,
                    max_bytes=limit,
                    received_bytes=size,
                )
            out.write(chunk)
            digest.update(chunk)
            probe.feed(chunk)
            if len(head) < HEAD_BYTES:
                head += chunk[: HEAD_BYTES - len(head)]
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), size, bytes(head), probe.finish()


def _check_extension(name: str, extension: str, content_type: str, size: int) -> None:
    if not extension:
        return  # no claim, nothing to contradict
    acceptable = EXTENSIONS.get(extension)
    if acceptable is None:
        message = f"不支持的文件扩展名 {extension} ({name})"
    elif content_type not in acceptable:
        message = f"文件 {name} 的扩展名与内容不符: 内容是{LABELS[content_type]}"
    else:
        return
    raise FileRefused(
        "name_mismatch",
        message,
        declared_name=name,
        extension=extension,
        content_type=content_type,
        size=size,
    )


def _place(temp: Path, target: Path, size: int) -> None:
    """Rename into place; a blob already there (same hash) is kept unless it is damaged."""
    if target.exists() and target.stat().st_size == size:
        temp.unlink()
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp, target)
    _fsync_dir(target.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _row(session, *, sha256: str, size: int, content_type: str) -> StoredFile:
    existing = session.get(StoredFile, sha256)
    if existing is not None:
        return existing
    row = StoredFile(sha256=sha256, size=size, content_type=content_type, created_at=utcnow())
    try:
        # A concurrent upload of the same bytes may insert first; its row is as good as ours.
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return session.get(StoredFile, sha256, populate_existing=True)
    return row


def _labels(types: frozenset[str]) -> str:
    return "、".join(label for content_type, label in LABELS.items() if content_type in types)


def _human_size(n: int) -> str:
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= factor:
            return f"{n / factor:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} 字节"
