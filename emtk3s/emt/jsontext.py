"""Edit a JSON file's text in place: the bytes around the change stay as they were (tabs,
``"Key" :`` spacing, key order), so a pull request shows only the change.

A small parser records where every value starts and ends; an edit splices new text at those
offsets, indented like its neighbours, and the result is checked to parse to the intended data.
"""

from __future__ import annotations

import json
import json.decoder
import re
from dataclasses import dataclass, field
from typing import Any

_WS = re.compile(r"[ \t\r\n]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_scanstring = json.decoder.scanstring  # type: ignore[attr-defined]


@dataclass
class Node:
    start: int
    end: int
    value: Any
    children: list[Node] = field(default_factory=list)  # arrays: elements; objects: values
    keys: list[str] = field(default_factory=list)  # objects only


def _ws(text: str, i: int) -> int:
    m = _WS.match(text, i)
    return m.end() if m else i


def _parse(text: str, i: int) -> Node:
    i = _ws(text, i)
    c = text[i : i + 1]
    if c == "{":
        node = Node(i, i, {})
        i = _ws(text, i + 1)
        if text[i : i + 1] == "}":
            node.end = i + 1
            return node
        while True:
            i = _ws(text, i)
            key, i = _scanstring(text, i + 1)
            i = _ws(text, i)
            if text[i : i + 1] != ":":
                raise ValueError(f"expected ':' at {i}")
            child = _parse(text, i + 1)
            node.keys.append(key)
            node.children.append(child)
            node.value[key] = child.value
            i = _ws(text, child.end)
            if text[i : i + 1] == ",":
                i += 1
                continue
            if text[i : i + 1] == "}":
                node.end = i + 1
                return node
            raise ValueError(f"expected ',' or '}}' at {i}")
    if c == "[":
        node = Node(i, i, [])
        i = _ws(text, i + 1)
        if text[i : i + 1] == "]":
            node.end = i + 1
            return node
        while True:
            child = _parse(text, i)
            node.children.append(child)
            node.value.append(child.value)
            i = _ws(text, child.end)
            if text[i : i + 1] == ",":
                i += 1
                continue
            if text[i : i + 1] == "]":
                node.end = i + 1
                return node
            raise ValueError(f"expected ',' or ']' at {i}")
    if c == '"':
        s, end = _scanstring(text, i + 1)
        return Node(i, end, s)
    m = _NUMBER.match(text, i)
    if m:
        return Node(i, m.end(), json.loads(m.group(0)))
    for lit, val in (("true", True), ("false", False), ("null", None)):
        if text.startswith(lit, i):
            return Node(i, i + len(lit), val)
    raise ValueError(f"unexpected character at {i}")


def parse(text: str) -> Node:
    """The value tree with offsets; raises ValueError on anything json.loads would refuse."""
    json.loads(text)  # the strict parser decides validity
    return _parse(text, 0)


def _line_indent(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    m = re.match(r"[ \t]*", text[start:pos])
    return m.group(0) if m else ""


def _unit(text: str) -> str:
    """One indentation step of the file (a tab, or N spaces)."""
    m = re.search(r"\n([ \t]+)\S", text)
    if not m:
        return "    "
    return "\t" if m.group(1).startswith("\t") else " " * len(m.group(1))


def _render(value: Any, indent: str, unit: str) -> str:
    """``value`` as JSON whose continuation lines start with ``indent`` (the element's own)."""
    if isinstance(value, dict | list) and value:
        text = json.dumps(value, indent=unit, ensure_ascii=False)
        return text.replace("\n", "\n" + indent)
    return json.dumps(value, ensure_ascii=False)


def insert(text: str, array: Node, index: int, value: Any) -> str:
    """``text`` with ``value`` inserted into ``array`` before element ``index``."""
    unit = _unit(text)
    if array.children:
        ref = array.children[min(index, len(array.children) - 1)]
        indent = _line_indent(text, ref.start)
        multiline = "\n" in text[array.start : array.children[0].start]
        rendered = _render(value, indent, unit)
        sep = (",\n" + indent) if multiline else ", "
        if index >= len(array.children):
            last = array.children[-1]
            return text[: last.end] + sep + rendered + text[last.end :]
        return text[: ref.start] + rendered + sep + text[ref.start :]
    outer = _line_indent(text, array.start)
    indent = outer + unit
    body = "\n" + indent + _render(value, indent, unit) + "\n" + outer
    return text[: array.start + 1] + body + text[array.end - 1 :]


def replace(text: str, node: Node, value: Any) -> str:
    """``text`` with ``node``'s value replaced by ``value``, indented like the node."""
    indent = _line_indent(text, node.start)
    return text[: node.start] + _render(value, indent, _unit(text)) + text[node.end :]


def remove(text: str, array: Node, index: int) -> str:
    """``text`` without element ``index`` of ``array`` (and its separator)."""
    el = array.children[index]
    if index + 1 < len(array.children):
        return text[: el.start] + text[array.children[index + 1].start :]
    if index > 0:
        prev = array.children[index - 1]
        return text[: prev.end] + text[el.end :]
    return text[: array.start + 1] + text[array.end - 1 :]


def set_key(text: str, obj: Node, key: str, value: Any) -> str:
    """``text`` with ``obj[key] = value`` (a new key is appended after the last one)."""
    if key in obj.keys:
        return replace(text, obj.children[obj.keys.index(key)], value)
    unit = _unit(text)
    if obj.children:
        last = obj.children[-1]
        indent = _line_indent(text, last.start)
        # the separator between a key and its value as the file writes it (`": "` or `" : "`)
        m = re.search(r'"\s*:\s*$', text[: last.start])
        colon = m.group(0)[1:] if m else ": "
        entry = json.dumps(key) + colon + _render(value, indent, unit)
        return text[: last.end] + ",\n" + indent + entry + text[last.end :]
    outer = _line_indent(text, obj.start)
    indent = outer + unit
    entry = json.dumps(key) + ": " + _render(value, indent, unit)
    return text[: obj.start + 1] + "\n" + indent + entry + "\n" + outer + text[obj.end - 1 :]
