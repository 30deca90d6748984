"""The directory of each NFS-bridge volume: pathPattern rendering and the names derived from it (pure).

Safety rules. Label and annotation values are written by whoever may create a PVC, so nothing they contain
may move a directory operation anywhere else: whatever the labels, nothing is ever created, renamed or deleted
outside the backend's base directory. Therefore:

* a rendered path is relative, made of segments of ``[A-Za-z0-9._-]`` only, none of them empty, ``.`` or
  ``..``, no longer than 255 bytes each and :data:`RENDERED_PATH_LIMIT` in all;
* only the pattern (written by the cluster admin, checked by :func:`validate_pattern`) can make subdirectories:
  a substituted value never contains ``/`` (see :func:`safe_value`);
* :func:`is_inside` is the last, lexical, check the caller makes before any create, rename or delete.

Lengths. Each value is cut to 63 characters (with a hash suffix, so long values stay distinct); a segment
longer than 255 bytes is cut the same way. The whole path is bounded when the *pattern* is validated: a
pattern whose longest possible rendering (63 characters per placeholder) exceeds :data:`RENDERED_PATH_LIMIT`
is rejected, so every claim gets the same answer instead of only the claims with long labels failing. That
limit leaves room under 1024 for :func:`with_collision_suffix` and :func:`archived_name`.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from storage_operator.api.v1alpha1.nfsbackend import (
    DEFAULT_PATH_PATTERN,
    LABEL_KEY_REGEX,
    PATH_KEYED_PLACEHOLDERS,
    PATH_PATTERN_REGEX,
    PATH_PLACEHOLDERS,
    PATH_PLACEHOLDERS_HELP,
)
from storage_operator.errors import InvalidSpec

__all__ = [
    "DEFAULT_PATH_PATTERN",
    "MAX_PATH",
    "MAX_PATTERN",
    "MAX_SEGMENT",
    "PATH_PATTERN_REGEX",
    "RENDERED_PATH_LIMIT",
    "VALUE_LIMIT",
    "ClaimFacts",
    "archived_name",
    "is_inside",
    "render",
    "safe_value",
    "validate_pattern",
    "with_collision_suffix",
]

MAX_PATTERN: Final = 255  # the CRD's maxLength of pathPattern
MAX_SEGMENT: Final = 255  # bytes in one directory name (NAME_MAX); our names are ASCII
MAX_PATH: Final = 1024  # bytes in a path below the base directory
VALUE_LIMIT: Final = 63  # characters of one substituted value
_HASH_LEN: Final = 8
_COLLISION_EXTRA: Final = 1 + _HASH_LEN  # "-" + 8 characters of the uid
_ARCHIVE_PREFIX: Final = "archived-"
_TIMESTAMP_FORMAT: Final = "%Y%m%dT%H%M%SZ"
_ARCHIVE_EXTRA: Final = len(_ARCHIVE_PREFIX) + len("-YYYYmmddTHHMMSSZ")
# A rendered path may still get a collision suffix and then be archived: both must fit under MAX_PATH.
RENDERED_PATH_LIMIT: Final = MAX_PATH - _COLLISION_EXTRA - _ARCHIVE_EXTRA

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_DOTS = re.compile(r"\.{2,}")
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")
_PATTERN_LITERAL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/-")
_PLACEHOLDER = re.compile(r"\$\{([^${}]*)\}")
_PATTERN_BODY = re.compile(PATH_PATTERN_REGEX.removeprefix("^").removesuffix("$"))
_KEY = re.compile(LABEL_KEY_REGEX)


@dataclass(frozen=True)
class ClaimFacts:
    """What a pathPattern may read of a PersistentVolumeClaim and its (future) PersistentVolume."""

    namespace: str
    name: str
    uid: str
    pv_name: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]


@dataclass(frozen=True)
class _Placeholder:
    text: str  # as written: "${pvc.labels.team}"
    source: str  # "namespace", "pvc.name", "pv.name", "pvc.labels" or "pvc.annotations"
    key: str = ""  # the label or annotation key


_Segment = tuple[str | _Placeholder, ...]


def _short_hash(value: str) -> str:
    # surrogatepass: a str from JSON may hold lone surrogates; they must hash, not raise.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LEN]


def _cut(text: str, limit: int, original: str) -> str:
    """``text`` when it fits in ``limit``, else its start + ``-`` + a hash of ``original`` (exactly ``limit``)."""
    if len(text) <= limit:
        return text
    return text[: limit - 1 - _HASH_LEN] + "-" + _short_hash(original)


def safe_value(value: str, limit: int = VALUE_LIMIT) -> str:
    """``value`` made safe as (part of) ONE path segment: only ``[A-Za-z0-9._-]`` (anything else, ``/``,
    ``\\``, ``%``, NUL, control and non-ASCII characters included, becomes ``_``), no run of dots (``..``
    becomes ``_``), no leading dot, and at most ``limit`` characters (a longer value is cut and gets ``-`` +
    8 hex characters of its SHA-256, so distinct long values stay distinct). Empty stays empty."""
    if limit < _COLLISION_EXTRA + 1:
        raise ValueError(f"limit {limit} leaves no room for the hash suffix; use at least {_COLLISION_EXTRA + 1}")
    safe = _DOTS.sub("_", _UNSAFE.sub("_", value))
    if safe.startswith("."):
        safe = "_" + safe[1:]
    return _cut(safe, limit, value)


def _parse(pattern: str) -> list[_Segment]:
    """The pattern's segments, each a sequence of literal text and placeholders; raises InvalidSpec."""
    segments: list[_Segment] = []
    current: list[str | _Placeholder] = []
    literal = ""
    pos = 0
    while pos < len(pattern):
        char = pattern[pos]
        if char == "$":
            match = _PLACEHOLDER.match(pattern, pos)
            if match is None:
                raise InvalidSpec(
                    f"pathPattern {pattern!r}: the '$' at position {pos} does not start a placeholder; "
                    f"placeholders are {PATH_PLACEHOLDERS_HELP}"
                )
            if literal:
                current.append(literal)
                literal = ""
            current.append(_placeholder(pattern, match.group(1)))
            pos = match.end()
            continue
        if char == "/":
            if literal:
                current.append(literal)
                literal = ""
            segments.append(tuple(current))
            current = []
        elif char in _PATTERN_LITERAL:
            literal += char
        else:
            raise InvalidSpec(
                f"pathPattern {pattern!r}: {char!r} at position {pos} is not allowed; use letters, digits, '.', "
                f"'_', '-', '/' and the placeholders {PATH_PLACEHOLDERS_HELP}"
            )
        pos += 1
    if literal:
        current.append(literal)
    segments.append(tuple(current))
    return segments


def _placeholder(pattern: str, body: str) -> _Placeholder:
    text = "${" + body + "}"
    if body in PATH_PLACEHOLDERS:
        return _Placeholder(text, "namespace" if body == "pvc.namespace" else body)
    for prefix in PATH_KEYED_PLACEHOLDERS:
        if body.startswith(prefix + "."):
            key = body.removeprefix(prefix + ".")
            if _KEY.fullmatch(key) is None:
                kind = "label" if prefix == "pvc.labels" else "annotation"
                raise InvalidSpec(
                    f"pathPattern {pattern!r}: {text} names {key!r}, which is not a valid {kind} key "
                    "(an optional 'prefix/' and a name of letters, digits, '.', '_', '-')"
                )
            return _Placeholder(text, prefix, key)
    raise InvalidSpec(f"pathPattern {pattern!r}: unknown placeholder {text}; known are {PATH_PLACEHOLDERS_HELP}")


def _worst_case(segment: _Segment) -> int:
    length = sum(len(part) if isinstance(part, str) else VALUE_LIMIT for part in segment)
    return min(length, MAX_SEGMENT)


def _check_pattern(pattern: str) -> list[_Segment]:
    if not pattern:
        raise InvalidSpec("pathPattern is empty")
    if len(pattern) > MAX_PATTERN:
        raise InvalidSpec(f"pathPattern is {len(pattern)} characters long; at most {MAX_PATTERN}")
    if pattern.startswith("/"):
        raise InvalidSpec(f"pathPattern {pattern!r} must be relative to the base directory (no leading '/')")
    segments = _parse(pattern)
    for segment in segments:
        if not segment:
            raise InvalidSpec(f"pathPattern {pattern!r} has an empty segment ('//' or a trailing '/')")
        if segment in ((".",), ("..",)):
            raise InvalidSpec(f"pathPattern {pattern!r} must not contain '.' or '..' segments")
    worst = sum(_worst_case(s) for s in segments) + len(segments) - 1
    if worst > RENDERED_PATH_LIMIT:
        raise InvalidSpec(
            f"pathPattern {pattern!r} can render to {worst} characters ({VALUE_LIMIT} per placeholder); "
            f"at most {RENDERED_PATH_LIMIT}: use fewer subdirectories or placeholders"
        )
    if _PATTERN_BODY.fullmatch(pattern) is None:  # the CRD's own check; the checks above are finer
        raise InvalidSpec(f"pathPattern {pattern!r} does not match {PATH_PATTERN_REGEX}")
    return segments


def validate_pattern(pattern: str) -> None:
    """Raise InvalidSpec naming what is wrong with ``pattern``: empty, longer than 255, a leading ``/``, an
    empty, ``.`` or ``..`` segment, a character outside ``[A-Za-z0-9._/-]``, an unknown placeholder, or a
    rendering that could exceed :data:`RENDERED_PATH_LIMIT`."""
    _check_pattern(pattern)


def _value(part: _Placeholder, facts: ClaimFacts) -> str:
    if part.source == "namespace":
        return facts.namespace
    if part.source == "pvc.name":
        return facts.name
    if part.source == "pv.name":
        return facts.pv_name
    if part.source not in PATH_KEYED_PLACEHOLDERS:  # a placeholder added to the API but not here
        raise AssertionError(f"no value for {part.text}")
    kind, values = ("label", facts.labels) if part.source == "pvc.labels" else ("annotation", facts.annotations)
    value = values.get(part.key)
    if value is None:
        raise InvalidSpec(f"the claim has no {kind} {part.key!r}, which the class's pathPattern {part.text} needs")
    return value


def render(pattern: str, facts: ClaimFacts) -> str:
    """The claim's directory relative to the base directory: ``pattern`` with each placeholder replaced by the
    :func:`safe_value` of its value. A segment over 255 bytes is cut deterministically (hash suffix). Raises
    InvalidSpec for a bad pattern, a label/annotation the claim lacks, or a segment that renders empty,
    ``.`` or ``..``."""
    segments = _check_pattern(pattern)
    rendered: list[str] = []
    for segment in segments:
        text = "".join(part if isinstance(part, str) else safe_value(_value(part, facts)) for part in segment)
        if text in ("", ".", ".."):
            written = "".join(part if isinstance(part, str) else part.text for part in segment)
            raise InvalidSpec(
                f"pathPattern segment {written!r} renders to {text!r} for this claim; a directory name must not "
                "be empty, '.' or '..'"
            )
        rendered.append(_cut(text, MAX_SEGMENT, text))
    path = "/".join(rendered)
    _check_relative(path, RENDERED_PATH_LIMIT)  # holds by construction; a last guard, not a code path
    return path


def _check_relative(path: str, limit: int = MAX_PATH) -> list[str]:
    """The segments of ``path``, a relative path as :func:`render` makes them; ValueError otherwise."""
    segments = path.split("/")
    if len(path) > limit or not all(
        _SAFE_SEGMENT.fullmatch(s) and s not in (".", "..") and len(s) <= MAX_SEGMENT for s in segments
    ):
        raise ValueError(f"{path!r} is not a safe relative volume path")
    return segments


def _rename_last(path: str, last: str) -> str:
    segments = _check_relative(path)
    result = "/".join([*segments[:-1], last])
    _check_relative(result)
    return result


def with_collision_suffix(path: str, uid: str) -> str:
    """The alternative name for ``path`` when its directory belongs to another claim: the last segment gets
    ``-`` + the first 8 characters of ``uid`` without dashes (the segment is cut to stay within 255)."""
    suffix = re.sub(r"[^A-Za-z0-9]", "", uid)[:_HASH_LEN]
    if not suffix:
        raise ValueError(f"uid {uid!r} has no letters or digits")
    last = path.rsplit("/", 1)[-1]
    return _rename_last(path, last[: MAX_SEGMENT - 1 - len(suffix)] + "-" + suffix)


def archived_name(path: str, now: datetime) -> str:
    """Where ``path`` goes when it is archived: the same parent, the last segment renamed to
    ``archived-<segment>-<UTC YYYYmmddTHHMMSSZ>`` (a long segment part is cut, with a hash suffix as in
    :func:`safe_value`, to stay within 255)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    stamp = now.astimezone(UTC).strftime(_TIMESTAMP_FORMAT)
    last = path.rsplit("/", 1)[-1]
    return _rename_last(path, f"{_ARCHIVE_PREFIX}{_cut(last, MAX_SEGMENT - _ARCHIVE_EXTRA, last)}-{stamp}")


def is_inside(base: str, path: str) -> bool:
    """Whether the relative ``path`` joined under ``base`` normalizes to something strictly inside ``base``
    (lexically: symlinks on the server are not seen). False for an absolute ``path``, NUL bytes, or a
    relative ``base`` that itself climbs out with ``..``."""
    if not path or path.startswith("/") or "\x00" in path or "\x00" in base:
        return False
    root = posixpath.normpath(base) if base else "."
    if root == ".." or root.startswith("../"):
        return False
    joined = posixpath.normpath(root + "/" + path)
    if root == ".":
        return joined not in (".", "..") and not joined.startswith(("../", "/"))
    prefix = root if root.endswith("/") else root + "/"
    return joined.startswith(prefix) and joined != root


def under_base(base: str, directory: str) -> bool:
    """Whether ``directory`` (relative to the export, as a PV's annotation names it) lies strictly inside
    ``base``: the check before anything is deleted, renamed or walked on a PV's word."""
    base = base.strip("/")
    return directory.startswith(base + "/") and is_inside(base, directory[len(base) + 1 :])
