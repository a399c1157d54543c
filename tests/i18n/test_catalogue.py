"""The English catalogue covers every message of the UI: extracted from the templates and
Python code with babel (as `make translations-extract` does), compared with the .po file."""

import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import PoFileParser, read_po

from backend.i18n.catalogues import TRANSLATIONS, catalogue_files, compile_stale, is_stale

ROOT = Path(__file__).resolve().parents[2]
BACKEND = ROOT / "backend"
ENGLISH_PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
CJK = re.compile(r"[\u4e00-\u9fff]")
# Comments nobody reads on the page: HTML comments, and script comments on their own lines.
NOT_SHOWN = re.compile(r"<!--.*?-->|/\*.*?\*/|^\s*//[^\n]*$", re.S | re.M)


def extracted() -> dict[tuple[str | None, str], tuple[str, ...]]:
    """{(context, msgid): msgid forms} of the code and templates, with babel.cfg's mapping."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[tuple[str | None, str], tuple[str, ...]] = {}
    for _file, _line, message, _comments, context in extract_from_dir(
        str(BACKEND), method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        forms = message if isinstance(message, tuple) else (message,)
        if forms[0]:
            found[(context, forms[0])] = forms
    return found


def english() -> Catalog:
    with ENGLISH_PO.open("rb") as f:
        return read_po(f, locale="en")


def test_the_extraction_finds_the_ui_messages():
    messages = extracted()
    # One of each kind: a template, a plural in a template, a view's flash, a lazy label, a history verb.
    assert (None, "请使用您的账号登录") in messages
    assert messages[(None, "剩余 %(num)s 个工作日")] == ("剩余 %(num)s 个工作日",) * 2
    assert (None, "签收成功, 请办理") in messages
    assert (None, "待签收") in messages
    assert ("history", "签收") in messages
    assert (None, "必填") in messages


def test_every_message_has_an_english_translation():
    catalog = english()
    missing = []
    for (context, msgid), forms in sorted(extracted().items(), key=lambda kv: kv[0][1]):
        entry = catalog.get(msgid, context=context)
        strings = (
            () if entry is None else entry.string if isinstance(entry.string, tuple) else (entry.string,)
        )
        if entry is None or entry.fuzzy or not strings or not all(strings):
            missing.append(f"{context + ' | ' if context else ''}{msgid}")
            continue
        if len(forms) > 1 and not isinstance(entry.string, tuple):
            missing.append(f"{msgid} (needs msgid_plural and msgstr[0], msgstr[1])")
    assert not missing, "messages without an English translation in messages.po:\n" + "\n".join(missing)


def test_translations_keep_the_placeholders_and_escape_percent_signs():
    wrong = []
    for message in english():
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[0]))
        for text in strings:
            # Templates always apply `%`: a lone percent sign would break the page.
            bare = PLACEHOLDER.sub("", text).replace("%%", "")
            if set(PLACEHOLDER.findall(text)) != wanted or "%" in bare:
                wrong.append(f"{ids[0]} -> {text}")
            if CJK.search(text):
                wrong.append(f"{ids[0]} -> {text} (still Chinese)")
    assert not wrong, "\n".join(wrong)


def test_no_message_is_translated_twice():
    """Several features append to the .po: babel would silently keep one of two entries."""
    seen = []

    class Recorder(PoFileParser):
        def _add_message(self):
            if not self.obsolete:
                seen.append(
                    (self.context.denormalize() if self.context else None, self.messages[0].denormalize())
                )
            super()._add_message()

    with ENGLISH_PO.open("rb") as f:
        Recorder(Catalog(locale="en")).parse(f)
    twice = [f"{ctx + ' | ' if ctx else ''}{msgid}" for (ctx, msgid), n in Counter(seen).items() if n > 1]
    assert len(seen) > 100
    assert not twice, "msgids with more than one entry in messages.po:\n" + "\n".join(twice)


def test_templates_have_no_chinese_outside_gettext(app):
    """Text of a template and string literals in its expressions go through _() / ngettext()."""
    lexer = app.jinja_env.lexer
    gettext_names = {"_", "gettext", "ngettext", "pgettext", "npgettext"}
    bare = []
    for path in sorted(BACKEND.glob("**/templates/**/*.html")):
        tokens = [
            (line, kind, value)
            for line, kind, value in lexer.tokeniter(path.read_text(encoding="utf-8"), path.name)
            if kind not in ("whitespace", "comment", "comment_begin", "comment_end", "linecomment")
        ]
        wrapped = set()
        for i, (line, kind, value) in enumerate(tokens):
            if kind == "string":
                before = [t[2] for t in tokens[max(0, i - 2) : i]]
                if (len(before) == 2 and before[1] == "(" and before[0] in gettext_names) or (
                    before[-1:] == [","] and i - 2 in wrapped
                ):
                    wrapped.add(i)
                    continue
            if kind == "data":
                value = NOT_SHOWN.sub("", value)
            if kind in ("data", "string") and CJK.search(value):
                bare.append(f"{path.relative_to(ROOT)}:{line}: {value.strip()[:60]}")
    assert not bare, "Chinese text not wrapped in _():\n" + "\n".join(bare)


def test_compile_writes_a_missing_or_stale_catalogue_and_leaves_a_fresh_one(tmp_path):
    po = tmp_path / "en" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\nmsgid "待办"\nmsgstr "To-do"\n'
    )
    assert catalogue_files(tmp_path) == [("en", po, po.with_suffix(".mo"))]

    assert compile_stale(tmp_path) == [po.with_suffix(".mo")]
    assert not is_stale(po, po.with_suffix(".mo"))
    assert b"To-do" in po.with_suffix(".mo").read_bytes()
    assert compile_stale(tmp_path) == []


@pytest.mark.parametrize("language", ["en"])
def test_the_test_session_compiled_the_catalogue(language):
    """tests/conftest.py compiles at start-up: a clean clone's pytest sees English too."""
    po = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
    assert not is_stale(po, po.with_suffix(".mo"))
