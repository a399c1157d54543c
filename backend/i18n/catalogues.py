"""Compiling the message catalogues (.po -> .mo) with babel's API.

`make translations` does this with `pybabel compile`; the test session calls
`compile_stale()` so a plain `pytest` on a clean clone sees the English catalogue too.
"""

import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def catalogue_files(directory: Path = TRANSLATIONS) -> list[tuple[str, Path, Path]]:
    """(language, .po, .mo) of every catalogue under `directory`."""
    return [
        (po.parent.parent.name, po, po.with_suffix(".mo"))
        for po in sorted(directory.glob("*/LC_MESSAGES/messages.po"))
    ]


def is_stale(po: Path, mo: Path) -> bool:
    return not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime


def compile_stale(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile every catalogue whose .mo is missing or older than its .po; the .mo files written."""
    written = []
    for language, po, mo in catalogue_files(directory):
        if not is_stale(po, mo):
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=language)
        # Written aside then renamed: several test runs may compile at the same moment.
        fd, tmp = tempfile.mkstemp(dir=mo.parent, suffix=".mo.tmp")
        try:
            with os.fdopen(fd, "wb") as target:
                write_mo(target, catalog)
            os.replace(tmp, mo)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(mo)
    return written
