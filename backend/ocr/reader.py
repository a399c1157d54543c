"""The text of an uploaded application document (PDF, PNG, JPEG), page by page.

A PDF page's own text layer is used when it holds real text; otherwise the page is rendered
and read with RapidOCR (PP-OCR models shipped inside the rapidocr-onnxruntime wheel, loaded
once per process on first use). Bad inputs raise `DocumentError`, whose message is Chinese
and meant for the applicant, and whose `code` is a short key.
"""

from __future__ import annotations

import io
import math
import re
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath

from backend.files import sniff as sniffing

# Real text on a page: CJK ideographs, Latin letters and digits (not spaces, rules, dots).
_REAL_CHARS = re.compile(r"[\u4e00-\u9fff0-9A-Za-z]")
# A text layer with fewer real characters than this is a scan with, at most, a stamp or a
# page number added: the page is read with OCR.
MIN_TEXT_CHARS = 20
# A scan whose page carries a typed header, footer or 收文 stamp has a text layer of a line or
# two: when images cover most of the page and the layer is shorter than this, it is read with
# OCR too (the rendering includes the typed lines). A copier's own OCR layer is far longer.
OVERLAY_TEXT_CHARS = 200
SCANNED_AREA = 0.5  # share of the page covered by images that makes it a scan
# Long side of a rendered page or an image given to OCR (pixels). A4 at 1600 px is ~137 dpi:
# 10.5 pt body text is ~20 px high, which the recogniser reads reliably (bench/ocr.py).
OCR_LONG_SIDE = 1600
# Images beyond this many pixels are refused before they are decoded (decompression bombs).
MAX_IMAGE_PIXELS = 40_000_000
SUPPORTED = (sniffing.PDF, sniffing.PNG, sniffing.JPEG)


def N_(message: str) -> str:
    """Marks a message id for extraction (babel's default keyword); translated where shown
    (backend/ocr/service.status), so str(DocumentError) stays Chinese for the logs."""
    return message


MESSAGES = {
    "encrypted": N_("该 PDF 文件已加密 (设有打开密码), 无法读取内容; 请上传未加密的版本"),
    "corrupt": N_("文件已损坏或不完整, 无法读取内容; 请重新导出或扫描后上传"),
    "too_many_pages": N_("文档共 {pages} 页, 超过可自动识别的上限 {limit} 页; 请只上传申报所需的部分"),
    "too_large_image": N_(
        "图片尺寸过大 ({megapixels} 万像素), 超过可识别的上限 {limit} 万像素; 请缩小后上传"
    ),
    "type_mismatch": N_("文件 {name} 的内容是{real}, 与文件扩展名所示的类型不符"),
    "unsupported": N_("无法识别{real} ({name}) 中的文字; 请上传 PDF、JPEG 或 PNG 文件"),
    "timeout": N_("文档识别超时 (上限 {limit} 秒), 仅读取了 {done}/{total} 页"),
}


class DocumentError(ValueError):
    """The document cannot be read. str(e) is a Chinese message for the applicant; `code` is
    one of MESSAGES' keys; `document` holds the pages read before a timeout (else None)."""

    def __init__(self, code: str, *, document: Document | None = None, **values):
        self.code = code
        self.document = document
        self.values = values  # the message's placeholders, kept to show it in other languages
        super().__init__(MESSAGES[code].format(**values))


@dataclass(frozen=True)
class Page:
    number: int  # 1-based
    text: str  # lines separated by "\n"
    method: str  # "text" (the PDF's text layer) | "ocr"
    seconds: float
    # OCR pages: the recogniser's confidence of each line of `text` (same order), else empty.
    line_scores: tuple[float, ...] = field(default=(), compare=False)
    # The text runs with their places, (x0, y0, x1, y1, text, score) with y downwards (PDF
    # points or image pixels; an OCR page's turned upright): tables whose cells wrap are read
    # by position (fields._column_tables).
    boxes: tuple[tuple, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Document:
    pages: list[Page]
    seconds: float


def read_document(
    data: bytes,
    *,
    filename: str,
    max_pages: int = 50,
    time_limit: float = 120.0,
    progress: Callable[[int, int], None] | None = None,
) -> Document:
    """Every page's text. Raises DocumentError (see MESSAGES for the codes)."""
    started = time.perf_counter()
    kind = _content_type(data, filename)
    if kind == sniffing.PDF:
        pages = _read_pdf(
            data, max_pages=max_pages, started=started, time_limit=time_limit, progress=progress
        )
    else:
        image = _open_image(data)
        page = _ocr_page(1, image, started=time.perf_counter())
        if progress:
            progress(1, 1)
        pages = [page]
    return Document(pages=pages, seconds=time.perf_counter() - started)


# --- what the file is -----------------------------------------------------------------


def _content_type(data: bytes, filename: str) -> str:
    """The sniffed type, which the name's extension (when it names a type) must agree with."""
    name = PurePath(filename or "").name
    head = data[: sniffing.HEAD_BYTES]
    # sniff() reads past the head only for ZIP packages (through zipfile, which takes a file
    # object) and text (which is_text=False skips: text is never a document we can read).
    real = sniffing.sniff(io.BytesIO(data), head=head, size=len(data), is_text=False)
    declared = sniffing.EXTENSIONS.get(PurePath(name).suffix.lower())
    if declared is not None and real not in declared and real != sniffing.UNKNOWN:
        raise DocumentError("type_mismatch", name=name, real=sniffing.LABELS[real])
    if real not in SUPPORTED:
        if declared is not None and declared & set(SUPPORTED):
            # A .pdf/.png/.jpg whose bytes are nothing we know: damaged rather than mislabelled.
            raise DocumentError("corrupt")
        raise DocumentError("unsupported", name=name, real=sniffing.LABELS[real])
    return real


# --- PDF ------------------------------------------------------------------------------


def _read_pdf(data, *, max_pages, started, time_limit, progress) -> list[Page]:
    import pypdfium2
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        if getattr(exc, "err_code", None) in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise DocumentError("encrypted") from None
        raise DocumentError("corrupt") from None
    try:
        total = len(pdf)
        if total == 0:
            raise DocumentError("corrupt")
        if total > max_pages:
            raise DocumentError("too_many_pages", pages=total, limit=max_pages)
        pages: list[Page] = []
        for index in range(total):
            if time.perf_counter() - started > time_limit:
                raise DocumentError(
                    "timeout",
                    document=Document(pages=pages, seconds=time.perf_counter() - started),
                    limit=_seconds(time_limit),
                    done=len(pages),
                    total=total,
                )
            pages.append(_pdf_page(pdf, index))
            if progress:
                progress(index + 1, total)
        return pages
    finally:
        pdf.close()


def _pdf_page(pdf, index: int) -> Page:
    import pypdfium2

    page_started = time.perf_counter()
    try:
        page = pdf[index]
        textpage = page.get_textpage()
        text = _clean(textpage.get_text_range())
        real = len(_REAL_CHARS.findall(text))
        if real >= MIN_TEXT_CHARS and (real >= OVERLAY_TEXT_CHARS or not _mostly_images(page)):
            boxes = _text_runs(textpage, page.get_size()[1])
            textpage.close()
            page.close()
            return Page(index + 1, text, "text", time.perf_counter() - page_started, boxes=boxes)
        textpage.close()
        width, height = page.get_size()
        scale = OCR_LONG_SIDE / max(width, height, 1.0)
        image = page.render(scale=scale, grayscale=True).to_pil()
        page.close()
    except pypdfium2.PdfiumError:
        raise DocumentError("corrupt") from None
    return _ocr_page(index + 1, image, started=page_started)


def _text_runs(textpage, height: float) -> tuple[tuple, ...]:
    """The text layer's runs (a line's part within one cell) with their rectangles."""
    runs = []
    for i in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(i)
        text = " ".join(textpage.get_text_bounded(left, bottom, right, top).split())
        if text:
            runs.append((left, height - top, right, height - bottom, text, 1.0))
    return tuple(runs)


def _mostly_images(page) -> bool:
    """Images (clipped to the page) cover at least SCANNED_AREA of it."""
    import pypdfium2.raw as pdfium_c

    width, height = page.get_size()
    area = 0.0
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,)):
        left, bottom, right, top = obj.get_bounds()
        w = min(right, width) - max(left, 0.0)
        h = min(top, height) - max(bottom, 0.0)
        if w > 0 and h > 0:
            area += w * h
    return area >= SCANNED_AREA * width * height


def _clean(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


def _seconds(value: float) -> str:
    return f"{value:g}"


# --- images ---------------------------------------------------------------------------


def _open_image(data: bytes):
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header only
    except Image.DecompressionBombError as exc:  # beyond Pillow's own limit: its message has the size
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        raise DocumentError(
            "too_large_image",
            megapixels=int(pixels.group(1)) // 10_000 if pixels else "?",
            limit=MAX_IMAGE_PIXELS // 10_000,
        ) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise DocumentError("corrupt") from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise DocumentError(
            "too_large_image", megapixels=width * height // 10_000, limit=MAX_IMAGE_PIXELS // 10_000
        )
    try:
        image.load()
        image = ImageOps.exif_transpose(image)  # phones store the turn in EXIF, not the pixels
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            # Transparent pixels are often black underneath: text on them would vanish.
            rgba = image.convert("RGBA")
            image = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image.alpha_composite(rgba)
        image = image.convert("L") if image.mode != "L" else image
    except (OSError, ValueError, SyntaxError):
        raise DocumentError("corrupt") from None
    long_side = max(image.size)
    if long_side > OCR_LONG_SIDE:
        ratio = OCR_LONG_SIDE / long_side
        image = image.resize((round(image.width * ratio), round(image.height * ratio)), Image.LANCZOS)
    return image


# --- OCR ------------------------------------------------------------------------------

_engine = None
_engine_lock = threading.Lock()
_run_lock = threading.Lock()

# RapidOCR settings (bench/ocr.py measures them). Pages are upright after EXIF transposition
# and rendering, so the 180° classifier is skipped; one onnxruntime thread per model keeps a
# worker from starving the web processes on a small machine.
ENGINE_OPTIONS = {
    "use_cls": False,
    "intra_op_num_threads": 1,
    "inter_op_num_threads": 1,
    "det_limit_type": "max",
    "det_limit_side_len": 1280,
}
# Text lines are recognised at the models' training height: 36 px costs ~20 % less but misreads
# more letters of project codes (J as 1) on scans (bench/ocr.py). One line per run is the
# fastest on CPU (no padding, small tensors).
REC_HEIGHT = 48
REC_BATCH = 1


def engine():
    """The process's RapidOCR, loaded on first use."""
    global _engine
    with _engine_lock:
        if _engine is None:
            from rapidocr_onnxruntime import RapidOCR

            ocr = RapidOCR(**ENGINE_OPTIONS)
            ocr.text_rec.rec_image_shape = [3, REC_HEIGHT, 320]
            ocr.text_rec.rec_batch_num = REC_BATCH
            _engine = ocr
        return _engine


def _ocr_page(number: int, image, *, started: float) -> Page:
    boxes = ocr_boxes(image)
    lines = join_lines(boxes)
    return Page(
        number,
        "\n".join(text for text, _score in lines),
        "ocr",
        time.perf_counter() - started,
        tuple(score for _text, score in lines),
        upright_boxes(boxes),
    )


def ocr_lines(image) -> list[tuple[str, float]]:
    """The text lines of a page image in reading order, each with its lowest box confidence."""
    return join_lines(ocr_boxes(image))


def ocr_boxes(image) -> list[tuple]:
    """RapidOCR's boxes of a page image: (4 corner points, text, score)."""
    import numpy as np

    rgb = np.asarray(image.convert("RGB"))
    ocr = engine()
    with _run_lock:  # one page at a time per process: more threads would only share 2 cores
        result, _elapsed = ocr(rgb)
    return [(box, text, float(score)) for box, text, score in (result or []) if text.strip()]


def _skew(boxes) -> float:
    """The page's turn: the median slope of the long boxes (they give a reliable one)."""
    slopes = []
    for box, _text, _score in boxes:
        (x0, y0), (x1, y1) = box[0], box[1]
        if x1 - x0 > 3 * abs(box[3][1] - box[0][1]):
            slopes.append((y1 - y0) / (x1 - x0))
    return math.atan(sorted(slopes)[len(slopes) // 2]) if slopes else 0.0


def upright_boxes(boxes) -> tuple[tuple, ...]:
    """(x0, y0, x1, y1, text, score) of each box with the page's turn taken out."""
    angle = _skew(boxes)
    cos, sin = math.cos(angle), math.sin(angle)
    out = []
    for box, text, score in boxes:
        xs = [x * cos + y * sin for x, y in box]
        ys = [-x * sin + y * cos for x, y in box]
        out.append((min(xs), min(ys), max(xs), max(ys), text.strip(), score))
    return tuple(out)


def join_lines(boxes) -> list[tuple[str, float]]:
    """Boxes (4 corner points, text, score) grouped into lines: on a slightly rotated scan a
    row's boxes drift in y, so positions are first turned back by the boxes' median slope."""
    if not boxes:
        return []
    angle = _skew(boxes)
    cos, sin = math.cos(angle), math.sin(angle)
    items = []
    for box, text, score in boxes:
        cx = sum(p[0] for p in box) / 4
        cy = sum(p[1] for p in box) / 4
        # Rotate by -angle: y' = -x sin + y cos.
        x, y = cx * cos + cy * sin, -cx * sin + cy * cos
        height = max(abs(box[3][1] - box[0][1]), abs(box[2][1] - box[1][1]), 1.0)
        left = box[0][0] * cos + box[0][1] * sin
        items.append((y, x, height, left, text.strip(), score))
    items.sort(key=lambda item: item[0])
    rows: list[list] = []
    for item in items:
        if rows:
            row = rows[-1]
            row_y = sum(i[0] for i in row) / len(row)
            row_h = sum(i[2] for i in row) / len(row)
            if abs(item[0] - row_y) < 0.5 * min(row_h, item[2]):
                row.append(item)
                continue
        rows.append([item])
    lines = []
    for row in rows:
        row.sort(key=lambda item: item[3])
        lines.append((" ".join(item[4] for item in row), min(item[5] for item in row)))
    return lines
