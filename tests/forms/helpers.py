"""A kitchen-sink schema with every field kind, and a browser's view of rendered forms."""

import lxml.html
from werkzeug.datastructures import MultiDict

KINDS = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "全部字段",
    "type": "object",
    "properties": {
        "name": {"type": "string", "title": "名称", "description": "项目的<正式>名称", "maxLength": 50},
        "notes": {"type": "string", "title": "说明", "maxLength": 2000},
        "memo": {"type": "string", "title": "备注", "x-widget": "textarea"},
        "count": {"type": "integer", "title": "数量", "minimum": 1},
        "ratio": {"type": "number", "title": "比例", "maximum": 1},
        "amount": {
            "type": "string",
            "format": "money",
            "title": "金额 (元)",
            "pattern": "^\\d{1,16}(\\.\\d{1,2})?$",
        },
        "start": {"type": "string", "format": "date", "title": "开始日期"},
        "meeting": {"type": "string", "format": "date-time", "title": "会议时间"},
        "level": {
            "type": "string",
            "title": "等级",
            "enum": ["a", "b", "c", "d"],
            "x-enumNames": ["甲", "乙", "丙", "丁"],
        },
        "size": {
            "type": "string",
            "title": "规模",
            "oneOf": [{"const": "small", "title": "小"}, {"const": "large", "title": "大"}],
        },
        "urgent": {"type": "boolean", "title": "加急"},
        "approved": {"type": "boolean", "title": "结论", "x-widget": "approve"},
        "tags": {
            "type": "array",
            "title": "标签",
            "items": {
                "type": "string",
                "enum": ["road", "water", "school"],
                "x-enumNames": ["道路", "水利", "学校"],
            },
        },
        "items": {
            "type": "array",
            "title": "明细",
            "minItems": 1,
            "items": {
                "type": "object",
                "title": "明细行",
                "properties": {
                    "label": {"type": "string", "title": "名目"},
                    "cost": {"type": "string", "title": "金额", "x-widget": "money"},
                },
                "required": ["label", "cost"],
            },
        },
        "reasons": {"type": "array", "title": "理由", "items": {"type": "string"}},
        "report": {
            "type": "object",
            "title": "报告",
            "properties": {
                "kind": {
                    "type": "string",
                    "title": "类别",
                    "oneOf": [{"const": "plan", "title": "方案"}, {"const": "other", "title": "其他"}],
                },
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "name": {"type": "string"},
            },
        },
        "photos": {
            "type": "array",
            "title": "照片",
            "items": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        },
        "history": {"type": "string", "title": "上轮意见", "readOnly": True},
    },
    "required": ["name", "approved"],
}

SHA_A = "a" * 64
SHA_B = "b" * 64

FULL_VALUES = {
    "name": "城东 <快速路> & 桥",
    "notes": "第一行\n第二行",
    "memo": "备注",
    "count": 3,
    "ratio": 0.5,
    "amount": "1200.50",
    "start": "2025-03-01",
    "meeting": "2025-03-01T01:30:00+00:00",
    "level": "c",
    "size": "large",
    "urgent": True,
    "approved": False,
    "tags": ["road", "school"],
    "items": [{"label": "土建", "cost": "100.00"}, {"label": "设备", "cost": "20.10"}],
    "reasons": ["材料不全", "金额有误"],
    "report": {"kind": "plan", "sha256": SHA_A, "name": "方案.pdf"},
    "photos": [SHA_A, SHA_B],
}


def doc(html):
    """The rendered fields inside a <form>, parsed as a browser would."""
    return lxml.html.fromstring(f"<form>{html}</form>")


def posted(html, **extra) -> MultiDict:
    """What a browser posts for the rendered form as it stands (no button pressed)."""
    form = doc(html)
    pairs = []
    for name, value in form.form_values():
        element = form.xpath(f'.//*[@name="{name}"]')[0]
        if element.tag == "textarea" and value.startswith("\n"):
            value = value[1:]  # browsers drop the newline right after <textarea>
        pairs.append((name, value))
    for name, value in extra.items():
        pairs.append((name, value))
    return MultiDict(pairs)
