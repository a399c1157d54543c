"""flask ocr evaluate DIR [--json] [--misses]: precision and recall of the field extraction
against the ground-truth JSON beside each document, and seconds per page (text / OCR)."""

import json
from pathlib import Path

import click
from flask.cli import AppGroup

ocr_cli = AppGroup("ocr", help="文档识别 (OCR of application documents).")


@ocr_cli.command("evaluate")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON.")
@click.option("--misses", is_flag=True, help="Also list every wrong or missing field.")
def evaluate_command(folder, as_json, misses):
    """Read every document with an X.json beside it; per field precision and recall, overall,
    and seconds per page for text-PDF and scanned pages."""
    from backend.ocr.evaluate import evaluate, report

    result = evaluate(Path(folder))
    if result.documents == 0:
        raise click.ClickException(
            f"{folder} 中没有附带标注 (X.json) 的文档 (no documents with ground truth)"
        )
    if as_json:
        data = result.as_dict()
        if not misses:
            data.pop("misses")
        click.echo(json.dumps(data, ensure_ascii=False, indent=1))
        return
    click.echo(report(result))
    if misses:
        for line in result.misses:
            click.echo("  " + line)
