"""What a file really is, from its bytes: magic numbers, the parts list of OOXML packages,
and a full UTF-8 check for text. The name a browser sends is never trusted for this."""

import codecs
import csv
import io
import json
import re
import zipfile
from pathlib import Path

from lxml import etree

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
GIF = "image/gif"
WEBP = "image/webp"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
DOCM = "application/vnd.ms-word.document.macroEnabled.12"
XLSM = "application/vnd.ms-excel.sheet.macroEnabled.12"
ZIP = "application/zip"
TEXT = "text/plain"
CSV = "text/csv"
JSON = "application/json"
UNKNOWN = "application/octet-stream"

# In the order messages list them.
LABELS = {
    PDF: "PDF 文档",
    JPEG: "JPEG 图片",
    PNG: "PNG 图片",
    GIF: "GIF 图片",
    WEBP: "WebP 图片",
    DOCX: "Word 文档 (docx)",
    XLSX: "Excel 表格 (xlsx)",
    PPTX: "PowerPoint 演示文稿 (pptx)",
    DOCM: "含宏的 Word 文档 (docm)",
    XLSM: "含宏的 Excel 表格 (xlsm)",
    ZIP: "ZIP 压缩包",
    TEXT: "文本文件",
    CSV: "CSV 表格",
    JSON: "JSON 数据",
    UNKNOWN: "无法识别的格式",
}

# A name's extension must be one of these and agree with the content.
EXTENSIONS: dict[str, frozenset[str]] = {
    ".pdf": frozenset({PDF}),
    ".png": frozenset({PNG}),
    ".jpg": frozenset({JPEG}),
    ".jpeg": frozenset({JPEG}),
    ".jpe": frozenset({JPEG}),
    ".jfif": frozenset({JPEG}),
    ".gif": frozenset({GIF}),
    ".webp": frozenset({WEBP}),
    ".docx": frozenset({DOCX}),
    ".xlsx": frozenset({XLSX}),
    ".pptx": frozenset({PPTX}),
    ".docm": frozenset({DOCM}),
    ".xlsm": frozenset({XLSM}),
    ".zip": frozenset({ZIP}),
    # Text is text: a one-column CSV is indistinguishable from plain lines, and JSON is text.
    ".txt": frozenset({TEXT, CSV, JSON}),
    ".csv": frozenset({CSV, TEXT}),
    ".json": frozenset({JSON}),
}

HEAD_BYTES = 8192
_CONTENT_TYPES_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
# Content type of the main part -> what the package is.
_OOXML_MAIN = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": DOCX,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": XLSX,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": PPTX,
    "application/vnd.ms-word.document.macroEnabled.main+xml": DOCM,
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": XLSM,
}
_MAX_CONTENT_TYPES_XML = 1024 * 1024
# C0 controls other than tab, LF, FF, CR (and DEL) do not occur in text documents.
_BINARY_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")


class TextProbe:
    """Fed every chunk while a file streams in: is the whole file UTF-8 text?"""

    def __init__(self):
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.is_text = True

    def feed(self, chunk: bytes) -> None:
        if not self.is_text:
            return
        try:
            text = self._decoder.decode(chunk)
        except UnicodeDecodeError:
            self.is_text = False
            return
        if _BINARY_CONTROLS.search(text):
            self.is_text = False

    def finish(self) -> bool:
        if self.is_text:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.is_text = False
        return self.is_text


def sniff(path: Path, *, head: bytes, size: int, is_text: bool) -> str:
    """The content type of the file at `path`, whose first bytes are `head`."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and head[12:15] == b"VP8":
        return WEBP
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(path)
    if is_text:
        return _text_type(path, head=head, complete=size <= len(head))
    return UNKNOWN


def _zip_type(path: Path) -> str:
    """OOXML documents are ZIP packages whose [Content_Types].xml names the main part."""
    try:
        with zipfile.ZipFile(path) as package:
            names = set(package.namelist())
            info = package.getinfo("[Content_Types].xml") if "[Content_Types].xml" in names else None
            if info is None or info.file_size > _MAX_CONTENT_TYPES_XML:
                return ZIP
            with package.open(info) as member:
                manifest = member.read(_MAX_CONTENT_TYPES_XML + 1)
    except (
        Exception
    ):  # a damaged or exotic container (bad CRC, encryption, ...) is not a document we vouch for
        return UNKNOWN
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(manifest, parser=parser)
    except etree.XMLSyntaxError:
        return ZIP
    for override in root.iter(f"{_CONTENT_TYPES_NS}Override"):
        kind = _OOXML_MAIN.get(override.get("ContentType", ""))
        if kind and override.get("PartName", "").lstrip("/") in names:
            return kind
    return ZIP


def _text_type(path: Path, *, head: bytes, complete: bool) -> str:
    text = head.decode("utf-8", errors="ignore").lstrip("\ufeff")
    if text.lstrip()[:1] in ("{", "["):
        try:
            with open(path, encoding="utf-8-sig") as f:
                value = json.load(f)
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, dict | list):
            return JSON
    if not complete:
        text = text.rpartition("\n")[0]  # the head may end inside a line
    return CSV if _looks_like_csv(text) else TEXT


def _looks_like_csv(text: str) -> bool:
    """At least two comma-separated rows, all with the same number (≥ 2) of fields."""
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if row]
    except csv.Error:
        return False
    widths = {len(row) for row in rows}
    return len(rows) >= 2 and len(widths) == 1 and widths.pop() >= 2
