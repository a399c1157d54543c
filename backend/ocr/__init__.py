"""OCR of application documents (issue 11): the text of PDFs and scans (reader), the key
fields found in it (fields), and `flask ocr evaluate DIR` against ground-truth files (cli).

Nothing heavy is imported here: RapidOCR loads on the first page that needs OCR."""


def init_app(app):
    from backend.ocr.cli import ocr_cli

    app.cli.add_command(ocr_cli)
    # The application flow: tables, the ocr.extract job, the polling route, the form's OCR panel,
    # and `flask ocr accuracy` (added to ocr_cli). Limits: OCR_MAX_PAGES, OCR_TIME_LIMIT_SECONDS.
    from backend.ocr import jobs, models, views  # noqa: F401

    views.register(app)
