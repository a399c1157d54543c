"""Untrusted XML (BPMN, DMN, imported diagrams): no entity expansion, no DTD, no network,
and any document type declaration refused outright.

A BPMN or DMN file never needs a DOCTYPE; one that has it is either a mistake or an attack
(billion laughs: entities that expand exponentially; XXE: an entity that reads
file:///etc/passwd or fetches http://...). lxml's parser below would already leave such
entities unexpanded, but a silently accepted file with dangling references is worse than a
clear refusal.
"""

from __future__ import annotations

import re

from lxml import etree

# resolve_entities=False: no expansion (internal or external); load_dtd=False: no external
# DTD subset; no_network=True: nothing fetched; huge_tree=False: libxml2's size limits stay.
SAFE_XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=False
)

# XML keywords are case-sensitive, but be generous: refuse any spelling.
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)

UNSAFE_MESSAGE = "XML 文件含有文档类型声明 (DOCTYPE/ENTITY), 可能是实体扩展或外部实体 (XXE) 攻击, 已拒绝"


class UnsafeXML(ValueError):
    """The document declares a DTD or entities; `line` is where, when known."""

    def __init__(self, line: int | None = None):
        self.line = line
        super().__init__(UNSAFE_MESSAGE)


def check_no_doctype(data: bytes) -> None:
    """Refuse a DOCTYPE/ENTITY declaration in the raw bytes (before any parser sees it)."""
    found = _DECLARATION.search(data)
    if found is None and data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with a BOM
        try:
            found = _DECLARATION.search(data.decode("utf-16").encode("utf-8"))
        except UnicodeDecodeError:
            found = None
        if found is not None:
            raise UnsafeXML(None)
        return
    if found is not None:
        raise UnsafeXML(data.count(b"\n", 0, found.start()) + 1)


def parse_untrusted(data: bytes | str, parser: etree.XMLParser | None = None) -> etree._Element:
    """Parse untrusted XML; raises UnsafeXML (DOCTYPE/entities) or etree.XMLSyntaxError."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    check_no_doctype(data)
    root = etree.fromstring(data, parser if parser is not None else SAFE_XML_PARSER)
    # Belt and braces for encodings the byte scan cannot read (e.g. UTF-16 without a BOM).
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXML(None)
    return root
