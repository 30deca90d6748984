"""StorageClass parameters of the NFS provisioner: every one checked (errors name it), and the class's
overrides merged over its NFSBackend's defaults."""

from __future__ import annotations

from typing import Any

import pytest

from storage_operator.api.v1alpha1.nfsbackend import DEFAULT_PATH_PATTERN, NFSBackendSpec
from storage_operator.errors import InvalidSpec
from storage_operator.reconcile.nfsclass import (
    KNOWN_PARAMETERS,
    ClassParameters,
    VolumeSettings,
    parse_parameters,
    settings_for,
)


def backend_spec(**fields: Any) -> NFSBackendSpec:
    """An NFSBackendSpec from camelCase fields, as read from the API server."""
    return NFSBackendSpec.model_validate({"server": "nfs.example", "exportPath": "/srv/export", **fields})


def settings(
    parameters: dict[str, str] | None = None, storage_class: dict[str, Any] | None = None, **spec: Any
) -> VolumeSettings:
    return settings_for(
        parse_parameters({"backend": "fast", **(parameters or {})}), "fast", backend_spec(**spec), storage_class or {}
    )


# ---------------------------------------------------------------- parse_parameters: backends


@pytest.mark.parametrize(
    ("parameters", "backends"),
    [
        ({"backend": "fast"}, ("fast",)),
        ({"backends": "fast"}, ("fast",)),
        ({"backends": "a,b"}, ("a", "b")),
        ({"backends": " a , b ,, a,b "}, ("a", "b")),  # trimmed, empty items dropped, duplicates once, order kept
        ({"backends": "b,a"}, ("b", "a")),
        ({"backend": "nfs.example.org"}, ("nfs.example.org",)),
        ({"backend": "a" * 63 + "." + "b" * 63}, ("a" * 63 + "." + "b" * 63,)),
    ],
)
def test_backends_are_parsed(parameters: dict[str, str], backends: tuple[str, ...]) -> None:
    assert parse_parameters(parameters).backends == backends


def test_defaults_when_only_a_backend_is_named() -> None:
    assert parse_parameters({"backend": "fast"}) == ClassParameters(
        backends=("fast",),
        path_pattern=None,
        on_delete=None,
        mode=None,
        uid=None,
        gid=None,
        adopt=False,
        capacity_check=True,
    )


def test_backend_and_backends_together_are_refused() -> None:
    with pytest.raises(InvalidSpec, match="backend or backends, not both"):
        parse_parameters({"backend": "a", "backends": "b"})
    with pytest.raises(InvalidSpec, match="not both"):
        parse_parameters({"backend": "", "backends": "b"})  # present counts, even empty


@pytest.mark.parametrize("parameters", [None, {}, {"backend": ""}, {"backends": " , ,"}, {"backend": "   "}])
def test_a_class_without_backend_is_refused(parameters: dict[str, str] | None) -> None:
    with pytest.raises(InvalidSpec, match="names no NFSBackend") as info:
        parse_parameters(parameters)
    assert "backend" in str(info.value)


@pytest.mark.parametrize(
    "name",
    ["Fast", "fast_1", "-fast", "fast-", "fa st", "fast/..", "..", ".fast", "fast.", "a..b", "ü", "a" * 254],
)
def test_bad_backend_names_are_named(name: str) -> None:
    with pytest.raises(InvalidSpec, match="is not an NFSBackend name") as info:
        parse_parameters({"backends": f"good,{name}"})
    assert repr(name.strip()) in str(info.value)


def test_a_too_long_backend_name_of_valid_characters_is_refused() -> None:
    name = ".".join(["a" * 63] * 4)  # 255 characters, each label valid
    with pytest.raises(InvalidSpec, match="is not an NFSBackend name"):
        parse_parameters({"backend": name})


# ---------------------------------------------------------------- parse_parameters: other parameters


def test_unknown_parameters_are_named_with_the_known_ones() -> None:
    with pytest.raises(InvalidSpec, match="unknown StorageClass parameter") as info:
        parse_parameters({"backend": "fast", "zeta": "1", "alpha": "2", "mode": "0770"})
    unknown, known = str(info.value).split("; known: ")
    assert unknown == "unknown StorageClass parameter(s) alpha, zeta"  # sorted, both named, mode not among them
    assert known == ", ".join(KNOWN_PARAMETERS)


def test_unknown_parameter_is_reported_before_a_missing_backend() -> None:
    with pytest.raises(InvalidSpec, match=r"unknown StorageClass parameter\(s\) server;"):
        parse_parameters({"server": "nfs.example"})


@pytest.mark.parametrize("pattern", ["${namespace}/${pvc.name}", "static", "${pvc.labels.team}/${pv.name}"])
def test_a_valid_path_pattern_is_kept(pattern: str) -> None:
    assert parse_parameters({"backend": "fast", "pathPattern": pattern}).path_pattern == pattern


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("/abs/${pvc.name}", "relative"),
        ("a/../b", "'..'"),
        ("${pvc.nam}", "unknown placeholder"),
        ("a b", "not allowed"),
        ("", "empty"),
        ("a//b", "empty segment"),
    ],
)
def test_a_bad_path_pattern_is_refused_with_the_parameter_named(pattern: str, words: str) -> None:
    with pytest.raises(InvalidSpec) as info:
        parse_parameters({"backend": "fast", "pathPattern": pattern})
    message = str(info.value)
    assert message.startswith("parameter pathPattern: ")
    assert words in message


@pytest.mark.parametrize("value", ["delete", "retain", "archive"])
def test_on_delete_values(value: str) -> None:
    assert parse_parameters({"backend": "fast", "onDelete": value}).on_delete == value


@pytest.mark.parametrize("value", ["Delete", "", "remove", " retain", "archive "])
def test_bad_on_delete_is_refused(value: str) -> None:
    with pytest.raises(InvalidSpec, match="parameter onDelete must be one of delete, retain, archive") as info:
        parse_parameters({"backend": "fast", "onDelete": value})
    assert repr(value) in str(info.value)


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("0770", 0o770),
        ("770", 0o770),
        ("0755", 0o755),
        ("2770", 0o2770),
        ("02770", 0o2770),
        ("7777", 0o7777),
        ("0000", 0),
        ("000", 0),
    ],
)
def test_mode_is_octal(text: str, mode: int) -> None:
    assert parse_parameters({"backend": "fast", "mode": text}).mode == mode


@pytest.mark.parametrize(
    "text", ["", "77", "0o770", "0x1f", "0880", "777777", "rwxrwx---", "-770", "493", "12345", "0770 "]
)
def test_bad_mode_is_refused(text: str) -> None:
    with pytest.raises(InvalidSpec, match="parameter mode must be octal like 0770 or 2770") as info:
        parse_parameters({"backend": "fast", "mode": text})
    assert repr(text) in str(info.value)


@pytest.mark.parametrize("which", ["uid", "gid"])
@pytest.mark.parametrize(("text", "value"), [("0", 0), ("1000", 1000), ("65534", 65534), ("2147483647", 2**31 - 1)])
def test_ids_in_range(which: str, text: str, value: int) -> None:
    parsed = parse_parameters({"backend": "fast", which: text})
    assert getattr(parsed, which) == value


@pytest.mark.parametrize("which", ["uid", "gid"])
@pytest.mark.parametrize("text", ["2147483648", "-1", "", "1.0", " 1", "1e3", "root", "0x10", "99999999999999999999"])
def test_ids_out_of_range_or_not_numbers_are_refused(which: str, text: str) -> None:
    with pytest.raises(InvalidSpec, match=f"parameter {which} must be a number from 0 to 2147483647") as info:
        parse_parameters({"backend": "fast", which: text})
    assert repr(text) in str(info.value)


def test_uid_with_a_superscript_digit_is_invalid_spec() -> None:
    with pytest.raises(InvalidSpec, match="parameter uid must be a number"):
        parse_parameters({"backend": "fast", "uid": "²"})


@pytest.mark.parametrize(
    ("parameter", "text", "value"),
    [
        ("adopt", "true", True),
        ("adopt", "false", False),
        ("adopt", "True", True),
        ("adopt", "FALSE", False),
        ("capacityCheck", "false", False),
        ("capacityCheck", "true", True),
        ("capacityCheck", "False", False),
    ],
)
def test_flags(parameter: str, text: str, value: bool) -> None:
    parsed = parse_parameters({"backend": "fast", parameter: text})
    assert (parsed.adopt if parameter == "adopt" else parsed.capacity_check) is value


@pytest.mark.parametrize("parameter", ["adopt", "capacityCheck"])
@pytest.mark.parametrize("text", ["yes", "1", "", "on", " true", "tru"])
def test_bad_flags_are_refused(parameter: str, text: str) -> None:
    with pytest.raises(InvalidSpec, match=f'parameter {parameter} must be "true" or "false"') as info:
        parse_parameters({"backend": "fast", parameter: text})
    assert repr(text) in str(info.value)


# ---------------------------------------------------------------- settings_for


def test_backend_defaults_when_the_class_sets_nothing() -> None:
    assert settings() == VolumeSettings(
        backend="fast",
        path_pattern=DEFAULT_PATH_PATTERN,
        on_delete="archive",
        mode=0o770,
        uid=None,
        gid=None,
        adopt=False,
        capacity_check=True,
        mount_options=("nfsvers=4.1",),
        reclaim_policy="Delete",
    )


def test_backend_settings_are_used() -> None:
    got = settings(
        pathPattern="${namespace}/${pvc.name}",
        onDelete="retain",
        directoryMode="2770",
        directoryUID=1000,
        directoryGID=2000,
        version="3",
    )
    assert (got.path_pattern, got.on_delete, got.mode, got.uid, got.gid) == (
        "${namespace}/${pvc.name}",
        "retain",
        0o2770,
        1000,
        2000,
    )
    assert got.mount_options == ("nfsvers=3",)


def test_class_parameters_override_the_backend() -> None:
    got = settings(
        {
            "pathPattern": "${pvc.name}",
            "onDelete": "delete",
            "mode": "0700",
            "uid": "1",
            "gid": "2",
            "adopt": "true",
            "capacityCheck": "false",
        },
        pathPattern="${namespace}/${pvc.name}",
        onDelete="retain",
        directoryMode="2770",
        directoryUID=1000,
        directoryGID=2000,
    )
    assert (got.path_pattern, got.on_delete, got.mode, got.uid, got.gid) == ("${pvc.name}", "delete", 0o700, 1, 2)
    assert (got.adopt, got.capacity_check) == (True, False)


def test_zero_from_the_class_overrides_the_backend() -> None:
    """0 is a setting (root, mode 0000), not "unset"."""
    got = settings({"mode": "0000", "uid": "0", "gid": "0"}, directoryMode="0770", directoryUID=1000, directoryGID=1000)
    assert (got.mode, got.uid, got.gid) == (0, 0, 0)


@pytest.mark.parametrize(
    ("class_options", "backend_options", "version", "port", "expected"),
    [
        (None, [], "4.1", 2049, ("nfsvers=4.1",)),
        (None, ["soft", "timeo=30"], "4.1", 2049, ("soft", "timeo=30", "nfsvers=4.1")),
        (["hard"], ["soft"], "4.1", 2049, ("hard", "nfsvers=4.1")),  # the class's replace the backend's
        ([], ["soft"], "3", 2049, ("soft", "nfsvers=3")),  # an empty list is "not set"
        (["vers=4.2"], [], "4.1", 2049, ("vers=4.2",)),
        (["nfsvers=3"], [], "4.1", 2049, ("nfsvers=3",)),
        (None, ["nfsvers=4.0"], "4.1", 2049, ("nfsvers=4.0",)),
        (None, [], "4.1", 2050, ("nfsvers=4.1", "port=2050")),
        (["port=3000"], [], "4.1", 2050, ("port=3000", "nfsvers=4.1")),
        (None, ["hard"], "3", 12049, ("hard", "nfsvers=3", "port=12049")),
        (["nolock"], [], "3", 2049, ("nolock", "nfsvers=3")),  # no port= for the standard port
    ],
)
def test_mount_options(
    class_options: list[str] | None, backend_options: list[str], version: str, port: int, expected: tuple[str, ...]
) -> None:
    storage_class: dict[str, Any] = {} if class_options is None else {"mountOptions": class_options}
    got = settings(storage_class=storage_class, mountOptions=backend_options, version=version, port=port)
    assert got.mount_options == expected


def test_settings_do_not_change_the_backend_spec() -> None:
    spec = backend_spec(mountOptions=["soft"], port=2050)
    settings_for(parse_parameters({"backend": "fast"}), "fast", spec, {})
    assert spec.mount_options == ["soft"]


@pytest.mark.parametrize(
    ("storage_class", "policy"),
    [({}, "Delete"), ({"reclaimPolicy": None}, "Delete"), ({"reclaimPolicy": "Retain"}, "Retain")],
)
def test_reclaim_policy(storage_class: dict[str, Any], policy: str) -> None:
    assert settings(storage_class=storage_class).reclaim_policy == policy


def test_the_chosen_backend_is_recorded() -> None:
    params = parse_parameters({"backends": "a,b"})
    assert settings_for(params, "b", backend_spec(), {}).backend == "b"
