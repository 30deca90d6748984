"""The NFS bridge's directory names: pathPattern validation and rendering, and the safety of what comes out
whatever a claim's labels and annotations hold."""

from __future__ import annotations

import posixpath
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from storage_operator.api.v1alpha1.nfsbackend import LABEL_KEY_REGEX
from storage_operator.errors import InvalidSpec
from storage_operator.reconcile.nfspath import (
    DEFAULT_PATH_PATTERN,
    MAX_PATH,
    MAX_SEGMENT,
    PATH_PATTERN_REGEX,
    RENDERED_PATH_LIMIT,
    ClaimFacts,
    archived_name,
    is_inside,
    render,
    safe_value,
    validate_pattern,
    with_collision_suffix,
)

UID = "1234abcd-5678-90ef-1234-567890abcdef"
NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
BASES = ("volumes", "a/b", "/export/volumes", "/export")
SAFE_PATH = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")

HOSTILE = [
    "../..",
    "..",
    ".",
    "/etc",
    "/",
    "%2e%2e",
    "..%2f",
    "%2e%2e%2f%2e%2e",
    "\x00",
    "a\x00b",
    "\n",
    "line\nbreak\r\t",
    "\\..\\",
    "..\\..\\windows",
    "ünïcödé/\u2215\u2025",  # with a division slash and a two-dot leader
    "\u202e..",  # right-to-left override
    "\ud800",  # a lone surrogate, as JSON may carry
    "...",
    ".hidden",
    "-rf",
    "a" * 10_000,
    "." * 10_000,
    "/" * 10_000,
    "é" * 10_000,
    "../" * 3_000,
    "",
]


def facts(
    *,
    namespace: str = "team-a",
    name: str = "data",
    pv_name: str = "pvc-1234abcd",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> ClaimFacts:
    return ClaimFacts(
        namespace=namespace,
        name=name,
        uid=UID,
        pv_name=pv_name,
        labels=labels or {},
        annotations=annotations or {},
    )


def check_safe(path: str) -> None:
    """Every guarantee render makes about its result."""
    assert SAFE_PATH.fullmatch(path), path
    assert not path.startswith("/")
    segments = path.split("/")
    assert all(s not in ("", ".", "..") for s in segments)
    assert all(len(s.encode()) <= MAX_SEGMENT for s in segments)
    assert len(path.encode()) <= RENDERED_PATH_LIMIT <= MAX_PATH
    assert not any(ord(c) < 32 or ord(c) == 127 or c == "\\" for c in path)
    for base in BASES:
        assert posixpath.normpath(base + "/" + path).startswith(base + "/")
        assert is_inside(base, path)


# ---------------------------------------------------------------------------- validate_pattern

VALID_PATTERNS = [
    DEFAULT_PATH_PATTERN,
    "${namespace}/${pvc.name}",
    "${pvc.namespace}/${pvc.name}-${pv.name}",
    "static",
    "a.b/c_d/e-f",
    "...",
    ".${pv.name}",
    "${pvc.labels.team}/${pv.name}",
    "${pvc.labels.app.kubernetes.io/name}-${pv.name}",
    "${pvc.annotations.example.com/owner}/${pvc.annotations.x}",
    "x" * 255,
]


@pytest.mark.parametrize("pattern", VALID_PATTERNS)
def test_valid_patterns_pass_both_checks(pattern: str) -> None:
    validate_pattern(pattern)
    assert re.fullmatch(PATH_PATTERN_REGEX.removeprefix("^").removesuffix("$"), pattern)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "empty"),
        ("x" * 256, "at most 255"),
        ("/etc/${pv.name}", "no leading '/'"),
        ("a/../${pv.name}", "'..' segments"),
        ("./${pv.name}", "'..' segments"),
        ("${pv.name}/..", "'..' segments"),
        ("a//b", "empty segment"),
        ("a/", "empty segment"),
        ("a b", "' ' at position 1 is not allowed"),
        ("a\\b", "'\\\\' at position 1"),
        ("a\x00b", "'\\x00' at position 1"),
        ("a\nb", "'\\n' at position 1"),
        ("é", "'é' at position 0"),
        ("a}", "'}' at position 1"),
        ("${pvcName}", "unknown placeholder ${pvcName}; known are ${namespace}, ${pvc.namespace}, ${pvc.name}"),
        ("${pvName}", "${pvc.labels.<key>}, ${pvc.annotations.<key>}"),
        ("${pvc.annotations}", "unknown placeholder ${pvc.annotations}"),
        ("${pvc.uid}", "unknown placeholder"),
        ("${}", "unknown placeholder ${}"),
        ("$x", "'$' at position 0 does not start a placeholder"),
        ("${pv.name", "does not start a placeholder"),
        ("${a${pv.name}}", "does not start a placeholder"),
        ("${pvc.labels.-team}", "'-team', which is not a valid label key"),
        ("${pvc.labels.a/b/c}", "not a valid label key"),
        ("${pvc.annotations.a b}", "not a valid annotation key"),
        ("${pvc.labels." + "k" * 64 + "}", "not a valid label key"),
        ("/".join(["${pv.name}"] * 17), "use fewer subdirectories or placeholders"),
    ],
)
def test_invalid_patterns_say_what_is_wrong(pattern: str, message: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        validate_pattern(pattern)
    assert message in str(caught.value)


def test_label_keys_follow_the_kubernetes_limits() -> None:
    key = re.compile(LABEL_KEY_REGEX)
    assert key.fullmatch("p" * 253 + "/" + "n" * 63)
    assert not key.fullmatch("p" * 254 + "/n")
    assert not key.fullmatch("p/" + "n" * 64)
    assert not key.fullmatch("a/b/c")
    validate_pattern("${pvc.labels." + "p" * 177 + "/" + "n" * 63 + "}")  # as long as a 255-character pattern allows


@given(st.from_regex(PATH_PATTERN_REGEX, fullmatch=True))
def test_what_the_crd_admits_validates_or_fails_only_for_the_rules_cel_and_length_add(pattern: str) -> None:
    assume(len(pattern) <= 255)
    allowed = r"no leading '/'|'\.\.' segments|empty segment|fewer subdirectories"
    try:
        validate_pattern(pattern)
    except InvalidSpec as exc:
        message = str(exc)
    else:
        return
    assert re.search(allowed, message), message


@given(st.text(alphabet="${}./-_abnmep" + "".join("\x00\n\\é "), max_size=40))
def test_what_validates_the_crd_admits(pattern: str) -> None:
    try:
        validate_pattern(pattern)
    except InvalidSpec:
        return
    assert re.fullmatch(PATH_PATTERN_REGEX.removeprefix("^").removesuffix("$"), pattern)


# ---------------------------------------------------------------------------- safe_value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("data", "data"),
        ("Team_A-1.x", "Team_A-1.x"),
        ("", ""),
        ("../..", "___"),
        ("..", "_"),
        (".", "_"),
        ("...", "_"),
        ("a..b", "a_b"),
        ("a.b.c", "a.b.c"),
        (".hidden", "_hidden"),
        ("/etc", "_etc"),
        ("%2e%2e", "_2e_2e"),
        ("..%2f", "__2f"),
        ("a\x00b", "a_b"),
        ("\n", "_"),
        ("\\..\\", "___"),
        ("é", "_"),
        ("日本", "__"),
        ("\ud800", "_"),
    ],
)
def test_safe_value(value: str, expected: str) -> None:
    assert safe_value(value) == expected


def test_long_values_are_cut_with_a_hash_and_stay_distinct() -> None:
    a, b = "a" * 10_000, "a" * 9_999 + "b"
    assert len(safe_value(a)) == len(safe_value(b)) == 63
    assert safe_value(a) != safe_value(b)
    assert re.fullmatch(r"a{54}-[0-9a-f]{8}", safe_value(a))
    assert safe_value(a) == safe_value(a)
    assert len(safe_value(a, limit=200)) == 200
    assert safe_value("x" * 63) == "x" * 63  # exactly at the limit: unchanged


def test_safe_value_needs_room_for_the_hash() -> None:
    with pytest.raises(ValueError, match="no room"):
        safe_value("abc", limit=9)


@settings(max_examples=300)
@given(st.one_of(st.sampled_from(HOSTILE), st.text(), st.text(alphabet="./\\%2e\x00\n", max_size=300)))
def test_safe_value_properties(value: str) -> None:
    safe = safe_value(value)
    assert re.fullmatch(r"[A-Za-z0-9._-]*", safe)
    assert ".." not in safe
    assert not safe.startswith(".")
    assert len(safe) <= 63
    assert (safe == "") == (value == "")
    assert safe_value(value) == safe


@given(st.text(min_size=64), st.text(min_size=64))
def test_distinct_long_values_give_distinct_results(a: str, b: str) -> None:
    assume(a != b)
    assert safe_value(a) != safe_value(b)


# ---------------------------------------------------------------------------- render


@pytest.mark.parametrize(
    ("pattern", "claim", "expected"),
    [
        (DEFAULT_PATH_PATTERN, facts(), "team-a-data-pvc-1234abcd"),
        ("${namespace}/${pvc.name}", facts(), "team-a/data"),
        ("${pvc.namespace}/x/${pv.name}", facts(), "team-a/x/pvc-1234abcd"),
        ("static", facts(), "static"),
        ("${pvc.labels.team}/${pv.name}", facts(labels={"team": "payments"}), "payments/pvc-1234abcd"),
        ("${pvc.labels.team}/${pv.name}", facts(labels={"team": "../.."}), "___/pvc-1234abcd"),
        ("${pvc.labels.team}/${pv.name}", facts(labels={"team": "/etc"}), "_etc/pvc-1234abcd"),
        ("${pvc.labels.team}-x", facts(labels={"team": ".."}), "_-x"),
        ("${pvc.labels.team}-x", facts(labels={"team": ""}), "-x"),
        ("p/${pvc.annotations.a}", facts(annotations={"a": "%2e%2e"}), "p/_2e_2e"),
        ("p/${pvc.annotations.a}", facts(annotations={"a": "..%2f"}), "p/__2f"),
        ("p/${pvc.annotations.a}", facts(annotations={"a": "a\x00b\nc"}), "p/a_b_c"),
        ("p/${pvc.annotations.a}", facts(annotations={"a": "\\..\\"}), "p/___"),
        ("p/${pvc.annotations.a}", facts(annotations={"a": "ñandú"}), "p/_and_"),
        (
            "${pvc.labels.app.kubernetes.io/name}",
            facts(labels={"app.kubernetes.io/name": "db"}),
            "db",
        ),
        ("${namespace}-${pvc.name}", facts(name="../../../etc/passwd"), "team-a-______etc_passwd"),
    ],
)
def test_render(pattern: str, claim: ClaimFacts, expected: str) -> None:
    assert render(pattern, claim) == expected
    check_safe(expected)


@pytest.mark.parametrize("kind", ["labels", "annotations"])
def test_a_missing_label_or_annotation_says_which_and_where(kind: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        render("${namespace}/${pvc." + kind + ".team}", facts(labels={"other": "x"}, annotations={"other": "x"}))
    singular = kind.removesuffix("s")
    assert str(caught.value) == (
        f"the claim has no {singular} 'team', which the class's pathPattern ${{pvc.{kind}.team}} needs"
    )


@pytest.mark.parametrize(
    ("pattern", "value"),
    [
        ("${namespace}/${pvc.labels.team}", ""),  # an empty label alone in a segment
        ("${pvc.labels.team}/x", ""),
        (".${pvc.labels.team}", ""),
        ("..${pvc.labels.team}", ""),
        ("${pvc.labels.team}${pvc.labels.team}", ""),
    ],
)
def test_a_segment_that_renders_empty_dot_or_dotdot_is_refused(pattern: str, value: str) -> None:
    with pytest.raises(InvalidSpec, match=re.escape("must not be empty, '.' or '..'")):
        render(pattern, facts(labels={"team": value}))


def test_render_refuses_an_invalid_pattern() -> None:
    with pytest.raises(InvalidSpec, match="unknown placeholder"):
        render("${namespace}-${pvcName}-${pvName}", facts())


def test_ten_kilobyte_values_are_cut_per_value() -> None:
    huge = "x" * 10_000
    path = render(DEFAULT_PATH_PATTERN, facts(namespace=huge, name=huge, pv_name=huge))
    value = safe_value(huge)
    assert path == f"{value}-{value}-{value}"
    assert len(path) == 3 * 63 + 2
    check_safe(path)


def test_a_segment_of_many_placeholders_is_cut_to_255_deterministically() -> None:
    pattern = "-".join(f"${{pvc.annotations.a{i}}}" for i in range(10))
    annotations = {f"a{i}": f"{i}" * 1000 for i in range(10)}
    path = render(pattern, facts(annotations=annotations))
    assert len(path) == MAX_SEGMENT
    assert re.fullmatch(r"0{54}-[0-9a-f]{8}-1{54}-.*-[0-9a-f]{8}", path)
    assert render(pattern, facts(annotations=annotations)) == path
    other = render(pattern, facts(annotations=annotations | {"a9": "8" * 1000}))
    assert len(other) == MAX_SEGMENT
    assert other != path  # the change is past the cut, the hash of the whole segment tells them apart
    check_safe(path)


def test_many_long_segments_are_refused_for_every_claim_not_only_long_ones() -> None:
    # Five segments of four placeholders each could render to 5 * 4 * 63 + 4 characters.
    segment = "${pv.name}${pv.name}${pv.name}${pv.name}"
    pattern = "/".join([segment] * 5)
    assert len(pattern) <= 255
    with pytest.raises(InvalidSpec, match=r"can render to 1264 characters .* at most 989"):
        render(pattern, facts(pv_name="p"))  # short values: refused all the same


def test_the_longest_admitted_patterns_stay_within_the_limits() -> None:
    segment = "${pvc.annotations.a}" * 4  # 4 * 63 = 252 characters at most
    pattern = "/".join([segment] * 3)
    annotations = {"a": "z" * 10_000}
    path = render(pattern, facts(annotations=annotations))
    assert len(path) == 3 * 252 + 2
    check_safe(path)


def test_subdirectories_come_only_from_the_pattern() -> None:
    claim = facts(namespace="a/b/c", name="../../x/y", labels={"t": "/".join(["p"] * 50)})
    path = render("${namespace}/${pvc.name}-${pvc.labels.t}", claim)
    assert path.count("/") == 1
    check_safe(path)


KEYED = re.compile(r"\$\{pvc\.(labels|annotations)\.([^}]+)\}")
HOSTILE_VALUES = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(),
    st.text(alphabet="./\\%2e\x00\n\u202e", max_size=200),
    st.text(min_size=60, max_size=400),
)


@settings(max_examples=300)
@given(
    pattern=st.one_of(
        st.sampled_from(VALID_PATTERNS),
        st.from_regex(PATH_PATTERN_REGEX, fullmatch=True).filter(lambda p: len(p) <= 255),
    ),
    data=st.data(),
)
def test_whatever_the_claim_holds_the_path_stays_inside_the_base(pattern: str, data: st.DataObject) -> None:
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    for kind, key in KEYED.findall(pattern):
        (labels if kind == "labels" else annotations)[key] = data.draw(HOSTILE_VALUES)
    claim = ClaimFacts(
        namespace=data.draw(HOSTILE_VALUES),
        name=data.draw(HOSTILE_VALUES),
        uid=UID,
        pv_name=data.draw(HOSTILE_VALUES),
        labels=labels,
        annotations=annotations,
    )
    try:
        path = render(pattern, claim)
    except InvalidSpec:
        return  # refusing is always safe
    check_safe(path)
    check_safe(with_collision_suffix(path, UID))
    assert len(archived_name(with_collision_suffix(path, UID), NOW)) <= MAX_PATH
    assert is_inside("volumes", archived_name(with_collision_suffix(path, UID), NOW))


# ---------------------------------------------------------------------------- collision suffix, archive


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("team-a-data-pvc-1", "team-a-data-pvc-1-1234abcd"),
        ("team-a/data", "team-a/data-1234abcd"),
        ("a/b/c", "a/b/c-1234abcd"),
    ],
)
def test_collision_suffix(path: str, expected: str) -> None:
    assert with_collision_suffix(path, UID) == expected


def test_collision_suffix_keeps_the_segment_within_255() -> None:
    path = "p/" + "x" * 255
    suffixed = with_collision_suffix(path, UID)
    assert suffixed == "p/" + "x" * 246 + "-1234abcd"
    assert len(suffixed.split("/")[-1]) == MAX_SEGMENT
    assert with_collision_suffix(path, "ffffffff-0000") != suffixed


@pytest.mark.parametrize(("path", "uid"), [("../x", UID), ("/abs", UID), ("a//b", UID), ("x", "----"), ("", UID)])
def test_collision_suffix_refuses_unsafe_input(path: str, uid: str) -> None:
    with pytest.raises(ValueError, match=r"not a safe relative volume path|no letters or digits"):
        with_collision_suffix(path, uid)


@pytest.mark.parametrize(
    ("path", "now", "expected"),
    [
        ("team-a-data-pvc-1", NOW, "archived-team-a-data-pvc-1-20240102T030405Z"),
        ("team-a/data", NOW, "team-a/archived-data-20240102T030405Z"),
        ("a/b/c", NOW.astimezone(timezone(timedelta(hours=5))), "a/b/archived-c-20240102T030405Z"),
    ],
)
def test_archived_name(path: str, now: datetime, expected: str) -> None:
    assert archived_name(path, now) == expected


def test_archived_name_keeps_the_segment_within_255_and_long_names_distinct() -> None:
    a, b = "x" * 250 + "a", "x" * 250 + "b"
    archived_a, archived_b = archived_name("p/" + a, NOW), archived_name("p/" + b, NOW)
    assert len(archived_a.split("/")[-1]) == len(archived_b.split("/")[-1]) == MAX_SEGMENT
    assert archived_a != archived_b
    assert re.fullmatch(r"p/archived-x{220}-[0-9a-f]{8}-20240102T030405Z", archived_a)


def test_archived_name_needs_an_aware_time_and_a_safe_path() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        archived_name("x", datetime(2024, 1, 2))  # naive: the point of the test
    with pytest.raises(ValueError, match="not a safe relative volume path"):
        archived_name("x/..", NOW)


# ---------------------------------------------------------------------------- is_inside


@pytest.mark.parametrize(
    ("base", "path", "inside"),
    [
        ("volumes", "x", True),
        ("volumes", "a/b", True),
        ("volumes", "a/../b", True),
        ("/export/volumes", "x", True),
        ("volumes/", "x", True),
        ("", "x", True),
        ("/", "x", True),
        ("volumes", "", False),
        ("volumes", ".", False),
        ("volumes", "a/..", False),
        ("volumes", "..", False),
        ("volumes", "../x", False),
        ("volumes", "../volumes2/x", False),
        ("volumes", "a/../../x", False),
        ("volumes", "/etc", False),
        ("volumes", "x\x00", False),
        ("/export/volumes", "../../../etc", False),
        ("", "..", False),
        ("", "../x", False),
        ("../elsewhere", "x", False),
        ("..", "x", False),
    ],
)
def test_is_inside(base: str, path: str, inside: bool) -> None:
    assert is_inside(base, path) is inside


@given(st.text(alphabet="ab./", max_size=30))
def test_is_inside_agrees_with_normpath(path: str) -> None:
    joined = posixpath.normpath("/export/volumes/" + path)
    expected = not path.startswith("/") and path != "" and joined.startswith("/export/volumes/")
    assert is_inside("/export/volumes", path) is expected
