"""Reading documents (backend/ocr/reader.py): PDF text layers, OCR of images and image-only
PDF pages, and the bad inputs: encrypted, corrupt, too many pages, decompression bombs,
mislabelled and unsupported files, the time limit.

The tests marked `ocr` run RapidOCR (a few seconds per page); there are three of them."""

import hashlib
import io
import struct
import time
import zlib

import pypdfium2
import pytest
from PIL import Image

from backend.ocr import reader
from backend.ocr.reader import DocumentError, read_document

CSS = "@page { size: A4; margin: 2cm; } body { font-family: 'Noto Serif CJK SC'; font-size: 14pt; }"
PAGE_1 = "<p>项目名称：杭州市西湖区留下街道农贸市场改造工程</p><p>项目总投资：12,500万元</p>"
PAGE_2 = "<p>建设地点：浙江省杭州市西湖区留下街道</p><p>计划开工时间：2026年3月</p>"


def pdf_of(*pages: str) -> bytes:
    from weasyprint import HTML

    body = '<div style="page-break-after: always"></div>'.join(pages)
    return HTML(string=f"<html><head><style>{CSS}</style></head><body>{body}</body></html>").write_pdf()


def squeeze(text: str) -> str:
    return "".join(text.split())


def chinese(message: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in message)


def refused(data: bytes, filename: str, **kwargs) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        read_document(data, filename=filename, **kwargs)
    assert chinese(str(caught.value)), str(caught.value)
    return caught.value


def test_a_text_pdf_is_read_from_its_text_layer_with_progress():
    calls = []
    document = read_document(
        pdf_of(PAGE_1, PAGE_2), filename="建议书.pdf", progress=lambda *a: calls.append(a)
    )
    assert [(p.number, p.method) for p in document.pages] == [(1, "text"), (2, "text")]
    assert (
        squeeze(document.pages[0].text)
        == "项目名称：杭州市西湖区留下街道农贸市场改造工程项目总投资：12,500万元"
    )
    assert squeeze(document.pages[1].text) == "建设地点：浙江省杭州市西湖区留下街道计划开工时间：2026年3月"
    assert calls == [(1, 2), (2, 2)]
    assert document.seconds >= sum(p.seconds for p in document.pages) > 0


def test_too_many_pages():
    error = refused(pdf_of(PAGE_1, PAGE_2, PAGE_1), "a.pdf", max_pages=2)
    assert error.code == "too_many_pages"
    assert str(error) == "文档共 3 页, 超过可自动识别的上限 2 页; 请只上传申报所需的部分"


def test_the_time_limit_keeps_the_pages_read():
    # The first page "takes" 0.2 s (progress sleeps): the limit of 0.1 s stops before page 2.
    error = refused(
        pdf_of(PAGE_1, PAGE_2), "a.pdf", time_limit=0.1, progress=lambda done, total: time.sleep(0.2)
    )
    assert error.code == "timeout"
    assert str(error) == "文档识别超时 (上限 0.1 秒), 仅读取了 1/2 页"
    assert [p.number for p in error.document.pages] == [1]


def _rc4(key: bytes, data: bytes) -> bytes:
    s, j = list(range(256)), 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def encrypted_pdf(user_password: bytes, owner_password: bytes) -> bytes:
    """A one-page PDF under the standard security handler, revision 2 (40-bit RC4), with an
    opening password (PDF 1.7, 7.6.3.3-4: algorithms 2, 3 and 4). The page has no content
    stream, so nothing else needs encrypting."""
    file_id = hashlib.md5(b"ocr-test").digest()
    permissions = -44
    owner = _rc4(hashlib.md5((owner_password + PAD)[:32]).digest()[:5], (user_password + PAD)[:32])
    key = hashlib.md5((user_password + PAD)[:32] + owner + struct.pack("<i", permissions) + file_id).digest()[
        :5
    ]
    user = _rc4(key, PAD)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>"
        % (owner.hex().encode(), user.hex().encode(), permissions),
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 4 0 R /ID [<%s> <%s>] >>\n" % (
        len(objects) + 1,
        file_id.hex().encode(),
        file_id.hex().encode(),
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def test_an_encrypted_pdf():
    data = encrypted_pdf(b"secret", b"owner")
    # A real encrypted PDF, not a broken one: PDFium opens it with the password.
    assert len(pypdfium2.PdfDocument(data, password="secret")) == 1
    error = refused(data, "可研.pdf")
    assert error.code == "encrypted"
    assert str(error) == "该 PDF 文件已加密 (设有打开密码), 无法读取内容; 请上传未加密的版本"


def test_a_truncated_pdf_is_corrupt():
    data = pdf_of(PAGE_1)
    error = refused(data[: len(data) // 3], "a.pdf")
    assert error.code == "corrupt"
    assert str(error) == "文件已损坏或不完整, 无法读取内容; 请重新导出或扫描后上传"


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_a_png_named_pdf_is_a_type_mismatch():
    error = refused(png_bytes(Image.new("L", (40, 40), 255)), "可行性研究报告.pdf")
    assert error.code == "type_mismatch"
    assert str(error) == "文件 可行性研究报告.pdf 的内容是PNG 图片, 与文件扩展名所示的类型不符"


def test_unsupported_and_unrecognised_files():
    assert refused(b"just some text", "notes.txt").code == "unsupported"
    # Bytes that are nothing at all under a .jpg name: damaged, not mislabelled.
    assert refused(b"\x00\x01garbage" * 10, "scan.jpg").code == "corrupt"


def bomb_png(width: int, height: int) -> bytes:
    """A PNG header declaring width × height pixels, with a tiny (wrong) IDAT: nothing in it
    may be decoded before the size is checked."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("width", "height", "message"),
    [
        (8000, 6000, "图片尺寸过大 (4800 万像素), 超过可识别的上限 4000 万像素; 请缩小后上传"),
        # Beyond Pillow's own bomb limit (2 × 89.5 MP): refused by Image.open itself.
        (20000, 20000, "图片尺寸过大 (40000 万像素), 超过可识别的上限 4000 万像素; 请缩小后上传"),
    ],
)
def test_a_decompression_bomb_is_refused_before_decoding(width, height, message):
    error = refused(bomb_png(width, height), "scan.png")
    assert error.code == "too_large_image"
    assert str(error) == message


def test_exif_orientation_is_applied():
    image = Image.new("L", (200, 100), 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    assert reader._open_image(buffer.getvalue()).size == (100, 200)


def test_boxes_of_a_tilted_row_form_one_line():
    # A 1.5° tilt over 900 px lifts the row's right cell by ~24 px: more than half a line
    # height (30 px), still one row once the slope is turned back.
    def box(x, y, w, h=30, slope=0.026):
        return [[x, y], [x + w, y + w * slope], [x + w, y + h + w * slope], [x, y + h]]

    boxes = [
        (box(900, 100 + 900 * 0.026 - 2, 200), "12,500万元", 0.98),
        (box(100, 100, 600), "项目总投资", 0.99),
        (box(100, 150, 600), "建设地点", 0.97),
        (box(900, 150 + 900 * 0.026, 200), "西湖区", 0.9),
    ]
    assert reader.join_lines(boxes) == [("项目总投资 12,500万元", 0.98), ("建设地点 西湖区", 0.9)]


@pytest.mark.ocr
def test_a_scanned_image_is_read_with_ocr():
    pdf = pypdfium2.PdfDocument(pdf_of(PAGE_1))
    image = pdf[0].render(scale=150 / 72).to_pil().convert("L")
    document = read_document(png_bytes(image.rotate(0.8, fillcolor=255, expand=True)), filename="扫描件.png")
    [page] = document.pages
    assert page.method == "ocr" and len(page.line_scores) == len(page.text.split("\n"))
    text = squeeze(page.text)
    assert "杭州市西湖区留下街道农贸市场改造工程" in text and "12,500万元" in text


@pytest.mark.ocr
def test_an_image_only_pdf_page_is_read_with_ocr():
    # Page 1 has a text layer, page 2 is a picture of a page (a scan saved as PDF).
    scan = pypdfium2.PdfDocument(pdf_of(PAGE_2))[0].render(scale=150 / 72).to_pil().convert("L")
    buffer = io.BytesIO()
    scan.save(buffer, "PDF", resolution=150.0)
    merged = pypdfium2.PdfDocument(pdf_of(PAGE_1))
    merged.import_pages(pypdfium2.PdfDocument(buffer.getvalue()))
    out = io.BytesIO()
    merged.save(out)
    document = read_document(out.getvalue(), filename="a.pdf")
    assert [p.method for p in document.pages] == ["text", "ocr"]
    assert "计划开工时间" in squeeze(document.pages[1].text) and "2026年3月" in squeeze(
        document.pages[1].text
    )


def test_a_transparent_background_becomes_white():
    image = Image.new("RGBA", (60, 40), (0, 0, 0, 0))  # transparent black
    image.paste((0, 0, 0, 255), (10, 10, 20, 20))  # an opaque black square
    grey = reader._open_image(png_bytes(image))
    assert grey.mode == "L" and grey.getpixel((0, 0)) == 255 and grey.getpixel((15, 15)) == 0


def scan_page_pdf(header: str) -> bytes:
    """A scan of PAGE_2 placed on a PDF page under a typed line (a 收文 header), as office
    scanners and document systems produce: the page has a short text layer and one big image."""
    import base64

    from weasyprint import HTML

    scan = pypdfium2.PdfDocument(pdf_of(PAGE_2))[0].render(scale=150 / 72).to_pil().convert("L")
    uri = "data:image/png;base64," + base64.b64encode(png_bytes(scan)).decode()
    css = "@page { size: A4; margin: 1cm; } body { font-family: 'Noto Serif CJK SC'; font-size: 8pt; }"
    body = f'<p>{header}</p><img src="{uri}" style="width: 16cm">'  # 58 % of the page
    return HTML(string=f"<html><head><style>{css}</style></head><body>{body}</body></html>").write_pdf()


@pytest.mark.ocr
def test_a_scan_under_a_typed_header_is_read_with_ocr():
    header = "杭州市发展和改革委员会收文 扫描件 第1页 共1页 收文编号2026第0815号"
    document = read_document(scan_page_pdf(header), filename="收文.pdf")
    page = document.pages[0]
    assert page.method == "ocr"
    assert "计划开工时间" in squeeze(page.text) and "2026年3月" in squeeze(page.text)


def test_a_page_with_a_picture_and_plenty_of_text_keeps_its_text_layer():
    header = "项目建设单位情况说明：" + "本单位具有相应的建设管理能力和资金筹措能力，" * 12
    document = read_document(scan_page_pdf(header), filename="说明.pdf")
    assert [p.method for p in document.pages] == ["text"]
