"""Reading scenario files: YAML with line numbers, overlays, ``--set`` overrides, readable errors.

Every problem becomes one line ``FILE:LINE: path.to.field: what is wrong (what was expected)``
and all problems of a file are reported together. The YAML is composed into nodes (not loaded
straight into Python) so each value keeps the line it was written on — and the file: a value
an overlay (``--overlay plan.yaml``) brought in is reported with the overlay's name and line.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from . import checks
from .schema import Scenario

Loc = tuple[str | int, ...]
OVERRIDE = "--set"
"""Shown in place of a line number for a value that came from ``--set``."""
_CLOCK_KEY = re.compile(r"^\d{1,2}:\d{2}$")


class ScenarioError(Exception):
    """A scenario that cannot be used; ``errors`` holds one formatted line per problem."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class Source:
    """Parsed YAML data plus where each path was written."""

    name: str
    data: Any
    lines: dict[Loc, int | str] = field(default_factory=dict)
    files: dict[Loc, str] = field(default_factory=dict)
    """The file that wrote a path, where it is not ``name`` (an overlay)."""

    def where(self, loc: Loc) -> tuple[str, int | str]:
        """File and line of the deepest part of ``loc`` written down (line 1: the whole file)."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.files.get(loc[:end], self.name), self.lines[loc[:end]]
        return self.name, 1

    def error(self, loc: Loc, message: str) -> str:
        path = ".".join(str(part) for part in loc) or "(file)"
        name, line = self.where(loc)
        return f"{name}:{line}: {path}: {message}"

    def forget(self, loc: Loc) -> None:
        """Drop what is known of where ``loc`` and everything below it was written."""
        for known in [k for k in self.lines if k[: len(loc)] == loc]:
            del self.lines[known]
            self.files.pop(known, None)


def load_scenario(path: str | Path, overrides: Sequence[str] = (),
                  overlays: Sequence[str | Path] = ()) -> Scenario:
    """Read one scenario file, merge its overlays (in order), apply ``--set`` overrides (last,
    so they win) and validate, or raise :class:`ScenarioError`."""
    path = Path(path)
    source = read_source(path)
    for overlay in overlays:
        apply_overlay(source, read_source(Path(overlay)))
    apply_overrides(source, overrides)
    return validate(source, base_dir=path.parent)


def read_source(path: Path) -> Source:
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError([f"{name}:1: (file): cannot read it: {exc.strerror} "
                             "(a readable YAML scenario file)"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError([f"{name}:{line}: (file): not UTF-8 text "
                             "(a YAML scenario file)"]) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise ScenarioError([f"{name}:{line}: (file): binary data, not text "
                             "(a YAML scenario file)"])
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError([f"{name}:{line}: (file): broken YAML: {problem} "
                             "(valid YAML syntax)"]) from None
    source = Source(name, None)
    if node is None:
        raise ScenarioError([f"{name}:1: (file): the file is empty "
                             "(a scenario with name, traffic, customers and platform)"])
    if not isinstance(node, yaml.MappingNode):
        raise ScenarioError([f"{name}:{node.start_mark.line + 1}: (file): the top level is not "
                             "a mapping (a scenario with name, traffic, customers and platform)"])
    errors: list[str] = []
    source.data = _to_python(node, (), source, errors)
    if errors:
        raise ScenarioError(errors)
    return source


_CONSTRUCTOR = yaml.SafeLoader(stream="")


def _scalar(node: yaml.Node) -> Any:
    """A scalar's value, but clock-like and date-like text stays text.

    YAML 1.1 reads ``20:00`` as the base-60 number 1200 and turns timestamps into datetimes;
    the schema wants the text, so those two tags are not constructed.
    """
    if node.tag.endswith((":int", ":float")) and ":" in node.value:
        return node.value
    if node.tag.endswith(":timestamp"):
        return node.value
    return _CONSTRUCTOR.construct_object(node, deep=True)


def _to_python(node: yaml.Node, loc: Loc, source: Source, errors: list[str]) -> Any:
    source.lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in _rejoin_pairs(node):
            # Keys are names or clock times: keep their text (YAML 1.1 reads `off:` as false).
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "<complex key>"
            key_loc = (*loc, key)
            source.lines[key_loc] = key_node.start_mark.line + 1
            if key in result:
                errors.append(source.error(key_loc, f"key {key!r} appears twice "
                                                    "(each key once)"))
                continue
            result[key] = _to_python(value_node, key_loc, source, errors)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = _rejoin_items(node)
        return [_to_python(item, (*loc, i), source, errors) for i, item in enumerate(items)]
    return _scalar(node)


def _unbalanced(node: yaml.Node) -> bool:
    return (isinstance(node, yaml.ScalarNode) and node.style is None
            and node.value.count("(") > node.value.count(")"))


def _joined(first: yaml.Node, rest: str) -> yaml.ScalarNode:
    return yaml.ScalarNode("tag:yaml.org,2002:str", f"{first.value}, {rest}",
                           first.start_mark, first.end_mark)


def _rejoin_pairs(node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
    """Undo YAML's split of ``{latency: lognormal(median=350ms, p99=2s)}`` at the comma.

    In a flow mapping the comma inside a distribution's parentheses ends the entry, leaving
    ``lognormal(median=350ms`` and a key ``p99=2s)`` with no value. Scenario authors write
    distributions this way (the reference scenario does), so such pieces are joined again.
    """
    pairs = list(node.value)
    if not node.flow_style:
        return pairs
    out: list[tuple[yaml.Node, yaml.Node]] = []
    for key, value in pairs:
        if (out and _unbalanced(out[-1][1]) and isinstance(key, yaml.ScalarNode)
                and isinstance(value, yaml.ScalarNode) and value.value == ""):
            out[-1] = (out[-1][0], _joined(out[-1][1], key.value))
        else:
            out.append((key, value))
    return out


def _rejoin_items(node: yaml.SequenceNode) -> list[yaml.Node]:
    """The same repair for flow sequences: ``[lognormal(mean=1s, cv=0.5)]``."""
    if not node.flow_style:
        return list(node.value)
    out: list[yaml.Node] = []
    for item in node.value:
        if out and _unbalanced(out[-1]) and isinstance(item, yaml.ScalarNode):
            out[-1] = _joined(out[-1], item.value)
        else:
            out.append(item)
    return out


def apply_overlay(source: Source, overlay: Source) -> None:
    """Merge a partial scenario onto ``source``: sections merge key by key, anything else — a
    number, text, a list, or a clock schedule such as ``support.agents`` — replaces the value
    it lands on whole. A schedule replaces rather than merges because a plan's schedule is the
    whole plan: an old ``"02:00": 15`` left between the plan's points would change it."""
    _merge(source, overlay, source.data, overlay.data, ())


def _merge(source: Source, overlay: Source, base: dict[Any, Any], extra: dict[Any, Any],
           loc: Loc) -> None:
    for key, value in extra.items():
        key_loc = (*loc, key)
        current = base.get(key)
        if (isinstance(current, dict) and isinstance(value, dict) and value
                and not _is_schedule(value)):
            _merge(source, overlay, current, value, key_loc)
            continue
        base[key] = value
        source.forget(key_loc)
        for known, line in overlay.lines.items():
            if known[: len(key_loc)] == key_loc:
                source.lines[known] = line
                source.files[known] = overlay.name


def _is_schedule(mapping: dict[Any, Any]) -> bool:
    return all(isinstance(k, str) and _CLOCK_KEY.match(k) for k in mapping)


def apply_overrides(source: Source, overrides: Sequence[str]) -> None:
    """Apply ``path=value`` overrides; values are read as YAML scalars (``32``, ``2s``)."""
    errors = []
    for text in overrides:
        dotted, eq, value_text = text.partition("=")
        if not eq or not dotted.strip():
            errors.append(f"{OVERRIDE} {text!r}: not path=value (e.g. --set platform.instances=32)")
            continue
        parts: list[str | int] = [int(p) if p.isdigit() else p for p in dotted.strip().split(".")]
        loc = tuple(parts)
        try:
            node = yaml.compose(value_text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "unreadable"
            errors.append(f"{OVERRIDE} {text!r}: the value is not YAML ({problem}); for "
                          f"text, quote it: {OVERRIDE} '{dotted}=\"{value_text}\"'")
            continue
        value = "" if node is None else _to_python(node, loc, Source("", None), [])
        target: Any = source.data
        for i, part in enumerate(parts[:-1]):
            nxt = target[part] if _has(target, part) else None
            if nxt is None:
                if isinstance(target, dict):
                    target[part] = nxt = {}
                else:
                    errors.append(f"{OVERRIDE} {text!r}: {'.'.join(map(str, parts[: i + 1]))} "
                                  "does not exist (a path into the scenario)")
                    break
            target = nxt
        else:
            last = parts[-1]
            if isinstance(target, dict) or _has(target, last):  # a new key, or an existing index
                target[last] = value
                source.forget(loc)
                source.lines[loc] = OVERRIDE
            else:
                errors.append(f"{OVERRIDE} {text!r}: {dotted} does not exist "
                              "(a path into the scenario)")
    if errors:
        raise ScenarioError(errors)


def _has(container: Any, key: str | int) -> bool:
    if isinstance(container, dict):
        return key in container
    return isinstance(container, list) and isinstance(key, int) and key < len(container)


def validate(source: Source, base_dir: Path | None = None) -> Scenario:
    try:
        scenario = Scenario.model_validate(source.data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ScenarioError([_format(source, err) for err in exc.errors()]) from None
    problems = checks.check(scenario)
    if problems:
        raise ScenarioError([source.error(loc, msg) for loc, msg in problems])
    return scenario


def _data_loc(data: Any, loc: Loc) -> Loc:
    """The part of a pydantic location that names real keys (drops ``[key]``, union tags)."""
    kept: list[str | int] = []
    for part in loc:
        if _has(data, part):
            kept.append(part)
            data = data[part]
        elif isinstance(data, dict) and str(part) in {str(k) for k in data}:
            key = next(k for k in data if str(k) == str(part))
            kept.append(key)
            data = data[key]
        elif isinstance(part, str) and not part.startswith(("[", "function", "literal", "lax")):
            kept.append(part)  # a missing or unknown key: still part of the path
            data = None
    return tuple(kept)


_EXPECTED = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
    "dict_type": "a mapping of key: value",
    "list_type": "a list",
    "tuple_type": "a list [from, to]",
    "model_type": "a mapping of key: value",
    "model_attributes_type": "a mapping of key: value",
    "datetime_type": "an ISO date-time like 2026-11-11T00:00:00+08:00",
    "datetime_parsing": "an ISO date-time like 2026-11-11T00:00:00+08:00",
    "datetime_from_date_parsing": "an ISO date-time like 2026-11-11T00:00:00+08:00",
}


def _format(source: Source, err: ErrorDetails) -> str:
    loc = _data_loc(source.data, tuple(err["loc"]))
    kind, ctx = err["type"], err.get("ctx", {})
    shown = _shown(err.get("input"))
    if kind == "missing":
        message = "missing (this key is required)"
    elif kind == "extra_forbidden":
        message = "unknown key" + _hint(str(loc[-1]), _allowed_keys(loc[:-1]))
    elif kind == "value_error":
        message = str(ctx.get("error", err["msg"]))
    elif kind == "literal_error":
        options = [o.strip(" '") for o in str(ctx.get("expected", "")).replace(" or ", ", ")
                   .split(",")]
        message = f"got {shown}" + _hint(str(err.get("input")), options)
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sign = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=",
                "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        message = f"got {shown} (a number {sign} {bound})"
    elif kind in ("too_short", "too_long"):
        message = f"has {ctx.get('actual_length')} entries ({err['msg'].lower()})"
    elif kind in _EXPECTED:
        message = f"got {shown} ({_EXPECTED[kind]})"
    else:
        message = err["msg"]
    return source.error(loc, message)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _hint(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (expected one of: {', '.join(options)})" if options else ""


def _allowed_keys(loc: Loc) -> list[str]:
    """Field names (aliases where set) of the section at ``loc`` in the schema."""
    current: Any = Scenario
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {(f.alias or n): f for n, f in current.model_fields.items()}
            if str(part) not in fields:
                return []
            current = fields[str(part)].annotation
        elif typing.get_origin(current) in (dict, list, tuple):
            current = typing.get_args(current)[-1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    """``X | None`` and ``Annotated[X, ...]`` -> ``X``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0]
        else:
            return annotation
