"""GET /files/<sha256>: a stored file for whoever may read it (access.py), with its sniffed
content type and the name it was given. PDFs and images open in the browser; everything
else downloads. Thin: the rule is in access.py, the bytes in service.py."""

import re
import unicodedata
from urllib.parse import quote

from flask import Blueprint, abort, render_template, send_file
from flask_login import current_user, login_required

from backend.extensions import db
from backend.files import access
from backend.files.errors import FileMissing
from backend.files.models import StoredFile
from backend.files.service import open_file
from backend.files.sniff import (
    CSV,
    DOCM,
    DOCX,
    EXTENSIONS,
    GIF,
    JPEG,
    JSON,
    PDF,
    PNG,
    PPTX,
    TEXT,
    WEBP,
    XLSM,
    XLSX,
    ZIP,
)

bp = Blueprint("files", __name__, template_folder="templates")

# Shown in the browser; anything else is a download (the browser renders none of it as a page).
INLINE_TYPES = frozenset({PDF, PNG, JPEG, GIF, WEBP})
# The extension a download gets when its name claims another type (or none).
CANONICAL_EXTENSIONS = {
    PDF: ".pdf",
    PNG: ".png",
    JPEG: ".jpg",
    GIF: ".gif",
    WEBP: ".webp",
    DOCX: ".docx",
    XLSX: ".xlsx",
    PPTX: ".pptx",
    DOCM: ".docm",
    XLSM: ".xlsm",
    ZIP: ".zip",
    TEXT: ".txt",
    CSV: ".csv",
    JSON: ".json",
}
_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|]')


@bp.get("/files/<sha256>")
@login_required
def download(sha256: str):
    if not access.is_sha256(sha256):
        abort(404)
    stored = db.session.get(StoredFile, sha256)
    if stored is None:
        abort(404)
    name = access.download_name(session=db.session, user=current_user, sha256=sha256)
    if name is None:
        return render_template("files/forbidden.html"), 403
    try:
        stream = open_file(sha256=sha256)
    except FileMissing:
        abort(404)
    inline = stored.content_type in INLINE_TYPES
    response = send_file(
        stream,
        mimetype=stored.content_type,
        conditional=True,
        etag=sha256,
        max_age=3600,
        last_modified=stored.created_at,
    )
    response.headers["Content-Disposition"] = content_disposition(
        "inline" if inline else "attachment", file_name(name, stored.content_type)
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Readable by this person only: no shared cache may keep it.
    response.cache_control.private = True
    response.cache_control.public = False
    return response


def file_name(name: str, content_type: str) -> str:
    """The name a download is saved under: no path or control characters, and an extension
    that agrees with the content (a name may have been typed into a form)."""
    clean = _UNSAFE.sub("_", unicodedata.normalize("NFC", name)).strip(" .") or "file"
    _, dot, extension = clean.rpartition(".")
    if dot and content_type in EXTENSIONS.get(f".{extension.lower()}", frozenset()):
        return clean
    return clean + CANONICAL_EXTENSIONS.get(content_type, ".bin")


def content_disposition(kind: str, name: str) -> str:
    """RFC 6266 with an ASCII `filename` for old clients and the real name as RFC 5987
    `filename*` (UTF-8, percent-encoded): Chinese names arrive intact."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name).strip("_")
    stem = ascii_name.rpartition(".")[0] if "." in ascii_name else ascii_name
    if not stem.strip("._-"):
        extension = name.rpartition(".")[2] if "." in name else ""
        extension = re.sub(r"[^A-Za-z0-9]", "", extension)
        ascii_name = "download" + (f".{extension}" if extension else "")
    encoded = quote(name, safe="!#$&+.^_`|~-")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"
