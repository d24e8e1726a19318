"""A strict, bounded YAML reader for desired-state files.

Built on PyYAML's SafeLoader event stream (libyaml's C parser when PyYAML has it and it keeps
marks; the pure-Python parser otherwise). The event stream is turned into plain Python data here,
so the YAML 1.1 constructor never runs:

- Scalars resolve as the YAML 1.2 core schema: only `true`/`false` (and their capitalised
  forms) are booleans; `null`, `~` and empty are null; decimal, `0o` octal and `0x` hex
  integers and decimal floats are numbers. `no`, `on`, `yes`, `off`, `12:30` and
  `2027-06-30T00:00:00Z` stay strings (instants are parsed later by
  `reconciler.durations.parse_instant`).
- Refused: duplicate keys (`Code.DUPLICATE_KEY`, at the second key's line), anchors, aliases,
  merge keys (`<<`), tags other than `!!str`/`!!map`/`!!seq`, non-scalar keys, several
  documents in one file, files above `MAX_FILE_BYTES` (refused before reading) and nesting
  deeper than `MAX_DEPTH` (refused as soon as it is reached, so YAML bombs stop early).
- Every value keeps its 1-based line: `YamlDocument.line_of(path)`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from reconciler.problems import Code

MAX_FILE_BYTES = 1 << 20
"""Largest desired-state file read (1 MiB); larger files are refused before parsing."""

MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences accepted (a group file needs six levels)."""

Path_ = tuple[str | int, ...]
"""A path into a document: mapping keys (str) and sequence indices (int), root = ()."""


def _c_loader_keeps_marks() -> bool:
    loader_cls = getattr(yaml, "CSafeLoader", None)
    if loader_cls is None:
        return False
    try:
        loader = loader_cls("a:\n  - b\n")
        try:
            lines = []
            while loader.check_event():
                event = loader.get_event()
                if isinstance(event, ScalarEvent):
                    lines.append(event.start_mark.line)
            return lines == [0, 1]
        finally:
            loader.dispose()
    except Exception:
        return False


_LOADER: type = yaml.CSafeLoader if _c_loader_keeps_marks() else yaml.SafeLoader

_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAGS = (None, "!", "tag:yaml.org,2002:map")
_SEQ_TAGS = (None, "!", "tag:yaml.org,2002:seq")

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT10 = re.compile(r"^[-+]?[0-9]+$")
_INT8 = re.compile(r"^0o[0-7]+$")
_INT16 = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")
_MAX_NUMBER_CHARS = 100


@dataclass(frozen=True, slots=True)
class YamlIssue:
    """One reason a file was refused: `code` is `yaml_syntax` or `duplicate_key`;
    `line` is 1-based (None when the whole file is refused, e.g. too large)."""

    code: Code
    message: str
    line: int | None = None


class YamlError(Exception):
    """A file that cannot be read as desired state. `issues` holds every duplicate key found,
    or the single syntax / limit problem that stopped reading."""

    def __init__(self, issues: Iterable[YamlIssue]) -> None:
        self.issues: tuple[YamlIssue, ...] = tuple(issues)
        super().__init__("; ".join(i.message for i in self.issues))


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """One parsed file: `data` is plain JSON-like Python (dict, list, str, int, float, bool,
    None); `lines` maps each value's path to its 1-based line and `key_lines` maps each
    mapping entry's path to the line of its key."""

    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    key_lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Iterable[str | int]) -> int | None:
        """Line of the value at `path`, or of its nearest ancestor that has one."""
        p = tuple(path)
        while True:
            line = self.lines.get(p)
            if line is not None:
                return line
            if not p:
                return None
            p = p[:-1]

    def key_line_of(self, path: Iterable[str | int]) -> int | None:
        """Line of the key of the mapping entry at `path` (falls back to `line_of`)."""
        p = tuple(path)
        return self.key_lines.get(p) or self.line_of(p)


class _Stop(Exception):
    def __init__(self, issue: YamlIssue) -> None:
        self.issue = issue


def _line(event: Event) -> int:
    return event.start_mark.line + 1


def _char_name(char: object) -> str:
    code = char if isinstance(char, int) else ord(char) if isinstance(char, str) and char else 0
    return f"U+{code:04X}"


def _tag_name(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org") else tag


def _resolve_plain(text: str, line: int) -> Any:
    """YAML 1.2 core schema resolution of a plain (unquoted, untagged) scalar."""
    if _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    first = text[0]
    if not (first.isdigit() or first in "+-."):
        return text  # fast path: words, UPNs, names
    if len(text) > _MAX_NUMBER_CHARS and (_INT10.match(text) or _FLOAT.match(text)):
        raise _Stop(YamlIssue(Code.YAML_SYNTAX, "number too long; quote it if it is text", line))
    if _INT10.match(text):
        return int(text)
    if _INT8.match(text):
        return int(text[2:], 8)
    if _INT16.match(text):
        return int(text[2:], 16)
    if _FLOAT.match(text):
        return float(text)
    if _INF.match(text):
        return float("-inf") if first == "-" else float("inf")
    if _NAN.match(text):
        return float("nan")
    return text


def _stop(message: str, line: int | None) -> _Stop:
    return _Stop(YamlIssue(Code.YAML_SYNTAX, message, line))


def _refused(event: Event, what: str) -> _Stop:
    """The error for an alias, or for an anchor on `event`."""
    line = _line(event)
    if type(event) is AliasEvent:
        return _stop(
            f"aliases (*{event.anchor}) are not allowed in desired state; write the value out",
            line,
        )
    return _stop(
        f"anchors (&{event.anchor}) are not allowed in desired state; write {what} out in full",
        line,
    )


class _Builder:
    """Turns one document's events into data, recording lines and duplicate keys.

    Hot path of loading a large repository: one `get_event` per event, no peeking, and
    `type(...) is` checks (events are never subclassed).
    """

    def __init__(self, loader: Any, max_depth: int) -> None:
        self._get = loader.get_event
        self._max_depth = max_depth
        self.lines: dict[Path_, int] = {}
        self.key_lines: dict[Path_, int] = {}
        self.duplicates: list[YamlIssue] = []

    def value(self, event: Event, path: Path_, depth: int) -> Any:
        """The value that starts with `event` (already read); consumes the rest of it."""
        cls = type(event)
        if cls is AliasEvent or event.anchor is not None:
            raise _refused(event, "the value")
        line = event.start_mark.line + 1
        self.lines[path] = line
        if cls is ScalarEvent:
            tag = event.tag
            if tag is None:
                return _resolve_plain(event.value, line) if event.implicit[0] else event.value
            if tag == "!" or tag == _STR_TAG:
                return event.value
            raise _stop(f"tag {_tag_name(tag)} is not allowed; quote the value if it is text", line)
        if depth >= self._max_depth:
            raise _stop(f"nesting deeper than {self._max_depth} levels is not allowed", line)
        if cls is MappingStartEvent:
            if event.tag not in _MAP_TAGS:
                raise _stop(f"tag {_tag_name(event.tag)} is not allowed", line)
            return self._mapping(path, depth)
        if cls is SequenceStartEvent:
            if event.tag not in _SEQ_TAGS:
                raise _stop(f"tag {_tag_name(event.tag)} is not allowed", line)
            items: list[Any] = []
            get = self._get
            item = get()
            while type(item) is not SequenceEndEvent:
                items.append(self.value(item, (*path, len(items)), depth + 1))
                item = get()
            return items
        raise _stop("unexpected YAML structure", line)

    def _mapping(self, path: Path_, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        get = self._get
        key_event = get()
        while type(key_event) is not MappingEndEvent:
            key_line = key_event.start_mark.line + 1
            if type(key_event) is not ScalarEvent:
                if type(key_event) is AliasEvent:
                    raise _refused(key_event, "the key")
                raise _stop("mapping keys must be plain text, not lists or mappings", key_line)
            if key_event.anchor is not None:
                raise _refused(key_event, "the key")
            if key_event.tag not in (None, "!", _STR_TAG):
                raise _stop(f"tag {_tag_name(key_event.tag)} is not allowed on a key", key_line)
            key = key_event.value
            if key == "<<" and key_event.implicit[0]:
                raise _stop("merge keys (<<) are not allowed in desired state", key_line)
            child = (*path, key)
            if key in first_line:
                self.duplicates.append(
                    YamlIssue(
                        Code.DUPLICATE_KEY,
                        f"duplicate key '{key}' (first at line {first_line[key]}); "
                        "YAML would silently keep only the last one",
                        key_line,
                    )
                )
                self.value(get(), child, depth + 1)  # check and skip; the file is refused
            else:
                first_line[key] = key_line
                self.key_lines[child] = key_line
                out[key] = self.value(get(), child, depth + 1)
            key_event = get()
        return out


def _syntax_issue(exc: yaml.MarkedYAMLError, text: str) -> YamlIssue:
    """Name the line where the parser gave up; when that is the end of the file (an unclosed
    bracket or quote), name the line where the construct started instead."""
    mark = exc.problem_mark or exc.context_mark
    if exc.context_mark is not None and mark is not None and mark.index >= len(text.rstrip()):
        mark = exc.context_mark
    started = ""
    if exc.context and exc.context_mark is not None:
        started = f" (started at line {exc.context_mark.line + 1})"
    reason = f"{exc.context}{started}: {exc.problem}" if exc.context else exc.problem
    line = None
    if mark is not None:  # at the end of the file: name its last line with content
        line = min(mark.line + 1, text.rstrip().count("\n") + 1)
        if exc.problem_mark is not None and exc.problem_mark.index < len(text) \
                and text[exc.problem_mark.index] == "\t":
            reason = f"{reason}: a tab; YAML indents with spaces only"
    return YamlIssue(Code.YAML_SYNTAX, f"invalid YAML: {reason or 'cannot parse'}", line)


def parse_yaml(text: str, *, max_depth: int = MAX_DEPTH) -> YamlDocument:
    """Parse one YAML document from `text` (an empty stream gives `data=None`).

    Raises `YamlError` with `duplicate_key` issues (all of them, at the second key's line) or
    one `yaml_syntax` issue (malformed YAML, a refused feature, too deep, several documents).
    """
    loader = _LOADER(text)
    try:
        builder = _Builder(loader, max_depth)
        try:
            loader.get_event()  # StreamStart
            if loader.check_event(StreamEndEvent):
                return YamlDocument(None)
            start = loader.get_event()
            assert isinstance(start, DocumentStartEvent)
            data = builder.value(loader.get_event(), (), 0)
            end = loader.get_event()
            assert isinstance(end, DocumentEndEvent)
            if not loader.check_event(StreamEndEvent):
                extra = loader.peek_event()
                raise _Stop(
                    YamlIssue(
                        Code.YAML_SYNTAX,
                        "several YAML documents in one file; declare one group per file",
                        _line(extra),
                    )
                )
        except _Stop as stop:
            raise YamlError([stop.issue]) from None
        except yaml.MarkedYAMLError as exc:
            raise YamlError([_syntax_issue(exc, text)]) from None
        except yaml.reader.ReaderError as exc:  # control characters and the like
            line = text.count("\n", 0, exc.position) + 1 if exc.position is not None else None
            raise YamlError(
                [
                    YamlIssue(
                        Code.YAML_SYNTAX,
                        f"invalid YAML: character {_char_name(exc.character)} is not allowed",
                        line,
                    )
                ]
            ) from None
        except yaml.YAMLError as exc:
            raise YamlError([YamlIssue(Code.YAML_SYNTAX, f"invalid YAML: {exc}", None)]) from None
        except RecursionError:
            raise YamlError(
                [YamlIssue(Code.YAML_SYNTAX, "nesting too deep to read", None)]
            ) from None
        if builder.duplicates:
            raise YamlError(builder.duplicates)
        return YamlDocument(data, builder.lines, builder.key_lines)
    finally:
        loader.dispose()


def decode_utf8(raw: bytes) -> str:
    """Decode desired-state bytes as UTF-8 (a leading BOM is dropped).

    Raises `YamlError` (`yaml_syntax`) naming the line of the first invalid byte.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise YamlError(
            [
                YamlIssue(
                    Code.YAML_SYNTAX,
                    f"not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}; "
                    "save the file as UTF-8",
                    line,
                )
            ]
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def read_bounded(path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """Read a file of at most `max_bytes` bytes; the size is checked before reading.

    Raises `YamlError` (`yaml_syntax`) for a file too large or unreadable (OSError).
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise YamlError(
                [
                    YamlIssue(
                        Code.YAML_SYNTAX,
                        f"file is {size} bytes; desired-state files are limited to "
                        f"{max_bytes} bytes",
                        None,
                    )
                ]
            )
        with p.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise YamlError(
            [YamlIssue(Code.YAML_SYNTAX, f"cannot read file: {exc.strerror or exc}", None)]
        ) from None
    if len(raw) > max_bytes:  # grew between stat and read
        raise YamlError([YamlIssue(Code.YAML_SYNTAX, f"file exceeds {max_bytes} bytes", None)])
    return raw


def load_yaml_bytes(
    raw: bytes, *, max_bytes: int = MAX_FILE_BYTES, max_depth: int = MAX_DEPTH
) -> YamlDocument:
    """Decode (UTF-8) and parse one document from bytes; see `parse_yaml`. Raises `YamlError`."""
    if len(raw) > max_bytes:
        raise YamlError(
            [
                YamlIssue(
                    Code.YAML_SYNTAX,
                    f"file is {len(raw)} bytes; desired-state files are limited to "
                    f"{max_bytes} bytes",
                    None,
                )
            ]
        )
    return parse_yaml(decode_utf8(raw), max_depth=max_depth)
