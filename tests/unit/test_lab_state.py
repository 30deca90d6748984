from __future__ import annotations

from pathlib import Path

import pytest

from storage_operator.errors import LabError
from storage_operator.lab.binaries import VERSIONS_FILE, Binaries, load_versions, parse_versions
from storage_operator.lab.state import LabState, LoopRecord, ProcessRecord, StateStore, exclusive


def test_state_round_trips(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    assert store.load() is None
    state = LabState(port_base=24400)
    state.processes.append(ProcessRecord(name="etcd", pid=10, start_ticks=99, argv0="etcd", log="/l"))
    state.loops.append(LoopRecord(device="/dev/loop3", backing_file="/x/disk0.img", node="node-a"))
    store.save(state)
    loaded = store.load()
    assert loaded == state
    assert loaded is not None
    assert loaded.process("etcd") == state.processes[0]
    store.remove()
    assert store.load() is None


def test_corrupt_state_file_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(LabError, match="unreadable"):
        StateStore(path).load()


def test_second_lab_command_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    with exclusive(lock), pytest.raises(LabError, match="another lab command"), exclusive(lock):
        pass
    with exclusive(lock):  # released again
        pass


def test_versions_file_pins_every_binary_the_lab_resolves() -> None:
    versions = load_versions()
    binaries = Binaries.in_cache(Path("/cache"), versions)
    assert binaries.kube_apiserver == Path(f"/cache/kubernetes-{versions['KUBERNETES_VERSION']}/kube-apiserver")
    assert binaries.etcd.parent.name == f"etcd-{versions['ETCD_VERSION']}"
    assert "CSI_SPEC_VERSION" in versions
    assert VERSIONS_FILE.name == "versions.env"


def test_parse_versions_ignores_comments_and_rejects_garbage() -> None:
    assert parse_versions("# c\n\nA=1\n B = 2 \n") == {"A": "1", "B": "2"}
    with pytest.raises(LabError, match="cannot parse"):
        parse_versions("JUSTAWORD\n")


def test_missing_binaries_say_how_to_build_them(tmp_path: Path) -> None:
    binaries = Binaries.in_cache(tmp_path, load_versions())
    with pytest.raises(LabError, match="make binaries"):
        binaries.require_control_plane()
