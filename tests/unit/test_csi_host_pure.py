"""The CSI node's and plugin's pure helpers: /proc/self/mountinfo parsing (csi.host.mounts), monitor
endpoints (csi.plugin), settings (csi.config), and the argv/options of ceph-fuse, the kernel CephFS mount,
rbd-fuse, krbd map and RBD mounts (csi.backends.cephfs_node, csi.backends.rbd_node)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from csi.backends.cephfs_node import build_fuse_argv, build_kernel_mount
from csi.backends.rbd_node import build_krbd_map_argv, build_rbd_fuse_argv, mount_options
from csi.config import CSIConfig
from csi.plugin import monitor_endpoints
from csi.proto import csi_pb2
from storage_operator.reconcile.mountinfo import MountEntry, parse_mountinfo

# ---------------------------------------------------------------------------- mountinfo

MOUNTINFO = "\n".join(
    [
        "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw",
        "29 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro",
        # ceph-fuse staging a subvolume (no optional fields)
        "812 29 0:77 / /var/lib/kubelet/plugins/kubernetes.io/csi/cephfs.csi.storage.baremetal.io/abc/globalmount "
        "rw,nosuid,nodev,relatime - fuse.ceph-fuse ceph-fuse rw,user_id=0,group_id=0,allow_other",
        # the publish: a bind mount of the staged directory (root is not /), two optional fields
        "845 29 0:77 /volumes/csi/csi-vol-1 /var/lib/kubelet/pods/p1/volumes/kubernetes.io~csi/pvc-1/mount "
        "rw,relatime shared:300 master:299 - fuse.ceph-fuse ceph-fuse rw,user_id=0,group_id=0",
        # a mount point with a space, and a source with a backslash
        r"900 29 7:3 / /mnt/my\040disk rw,relatime - ext4 /dev/loop3\134x rw",
        "this line is not mountinfo at all",
        "901 29 7:4 / /mnt/short rw",  # no separator
        "902 29 7:5 / - ext4",  # too few fields on both sides
        "",
        "903 29 0:90 / /mnt/kernel rw,relatime - ceph 10.0.0.1:6789:/volumes/csi/x rw,name=csi,secret=<hidden>",
    ]
)


def test_parse_mountinfo() -> None:
    entries = parse_mountinfo(MOUNTINFO)
    assert [e.mount_id for e in entries] == [22, 29, 812, 845, 900, 903]
    assert entries[0] == MountEntry(
        mount_id=22,
        device="0:21",
        root="/",
        mount_point="/proc",
        options="rw,nosuid,nodev,noexec,relatime",
        fstype="proc",
        source="proc",
    )


def test_parse_mountinfo_fuse_and_bind() -> None:
    by_id = {e.mount_id: e for e in parse_mountinfo(MOUNTINFO)}
    staged, published = by_id[812], by_id[845]
    assert staged.fstype == "fuse.ceph-fuse"
    assert staged.source == "ceph-fuse"
    assert staged.root == "/"
    assert staged.mount_point.endswith("/abc/globalmount")
    assert published.device == staged.device
    assert published.root == "/volumes/csi/csi-vol-1"
    assert published.mount_point == "/var/lib/kubelet/pods/p1/volumes/kubernetes.io~csi/pvc-1/mount"
    assert published.options == "rw,relatime"
    assert published.fstype == "fuse.ceph-fuse"


def test_parse_mountinfo_unescapes() -> None:
    by_id = {e.mount_id: e for e in parse_mountinfo(MOUNTINFO)}
    assert by_id[900].mount_point == "/mnt/my disk"
    assert by_id[900].source == "/dev/loop3\\x"
    assert by_id[903].source == "10.0.0.1:6789:/volumes/csi/x"
    assert by_id[903].fstype == "ceph"


@pytest.mark.parametrize(
    ("escaped", "plain"),
    [
        (r"/a\040b", "/a b"),
        (r"/a\011b", "/a\tb"),
        (r"/a\012b", "/a\nb"),
        (r"/a\134b", "/a\\b"),
        (r"/a\040\040", "/a  "),
        ("/a\\", "/a\\"),  # a lone backslash at the end stays
        (r"/a\9999", r"/a\9999"),  # not octal: kept as it is
        (r"/a\04", r"/a\04"),  # too short
    ],
)
def test_mount_point_escapes(escaped: str, plain: str) -> None:
    [entry] = parse_mountinfo(f"1 0 0:1 / {escaped} rw - tmpfs tmpfs rw")
    assert entry.mount_point == plain


def test_parse_mountinfo_empty() -> None:
    assert parse_mountinfo("") == []


# ---------------------------------------------------------------------------- monitors


@pytest.mark.parametrize(
    ("monitors", "expected"),
    [
        pytest.param(("[v2:127.0.0.1:26410,v1:127.0.0.1:26411]",), [("127.0.0.1", 26410)], id="v2-and-v1"),
        pytest.param(("[v1:127.0.0.1:26411,v2:127.0.0.1:26410]",), [("127.0.0.1", 26410)], id="v1-first"),
        pytest.param(("10.0.0.1:6789",), [("10.0.0.1", 6789)], id="host-port"),
        pytest.param(("10.0.0.1",), [("10.0.0.1", 3300)], id="bare-host"),
        pytest.param(("[v1:10.0.0.1:6789]",), [("10.0.0.1", 6789)], id="v1-only"),
        pytest.param(("v1:10.0.0.1:6789/0",), [("10.0.0.1", 6789)], id="v1-with-nonce"),
        pytest.param(("[v2:10.0.0.1:3300/0,v1:10.0.0.1:6789/0]",), [("10.0.0.1", 3300)], id="nonces"),
        pytest.param(
            ("[v2:10.0.0.1:3300,v1:10.0.0.1:6789]", "[v2:10.0.0.2:3300,v1:10.0.0.2:6789]", "10.0.0.3"),
            [("10.0.0.1", 3300), ("10.0.0.2", 3300), ("10.0.0.3", 3300)],
            id="several",
        ),
        pytest.param((" 10.0.0.1:6789 ",), [("10.0.0.1", 6789)], id="spaces"),
        pytest.param(("mon-a.example:3300",), [("mon-a.example", 3300)], id="hostname"),
        pytest.param(("[v2:[::1]:3300,v1:[::1]:6789]",), [("::1", 3300)], id="ipv6"),
        pytest.param((), [], id="none"),
    ],
)
def test_monitor_endpoints(monitors: tuple[str, ...], expected: list[tuple[str, int]]) -> None:
    assert monitor_endpoints(monitors) == expected


# ---------------------------------------------------------------------------- settings


@pytest.fixture(autouse=True)
def no_csi_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings below come from the test alone, not from CSI_* variables of the shell running it."""
    for name in list(os.environ):
        if name.upper().startswith("CSI_"):
            monkeypatch.delenv(name)


def config(**values: str) -> CSIConfig:
    return CSIConfig.model_validate({"driver": "cephfs", **values})


@pytest.mark.parametrize(
    ("monitors", "expected"),
    [
        pytest.param("", (), id="empty"),
        pytest.param("10.0.0.1:6789", ("10.0.0.1:6789",), id="one"),
        pytest.param("10.0.0.1:6789,10.0.0.2:6789", ("10.0.0.1:6789", "10.0.0.2:6789"), id="two"),
        pytest.param(
            "[v2:10.0.0.1:3300,v1:10.0.0.1:6789],[v2:10.0.0.2:3300,v1:10.0.0.2:6789]",
            ("[v2:10.0.0.1:3300,v1:10.0.0.1:6789]", "[v2:10.0.0.2:3300,v1:10.0.0.2:6789]"),
            id="brackets-kept-together",
        ),
        pytest.param(
            " [v2:10.0.0.1:3300,v1:10.0.0.1:6789] , 10.0.0.3 ,,",
            ("[v2:10.0.0.1:3300,v1:10.0.0.1:6789]", "10.0.0.3"),
            id="spaces-and-empty-entries",
        ),
    ],
)
def test_monitor_list(monitors: str, expected: tuple[str, ...]) -> None:
    assert config(monitors=monitors).monitor_list == expected


def test_monitor_list_feeds_monitor_endpoints() -> None:
    cfg = config(monitors="[v2:127.0.0.1:26410,v1:127.0.0.1:26411],127.0.0.2")
    assert monitor_endpoints(cfg.monitor_list) == [("127.0.0.1", 26410), ("127.0.0.2", 3300)]


def test_socket_path() -> None:
    assert config().socket_path == Path("/csi/csi.sock")
    assert config(endpoint="unix:///run/csi/rbd.sock").socket_path == Path("/run/csi/rbd.sock")


@pytest.mark.parametrize("endpoint", ["tcp://127.0.0.1:10000", "/csi/csi.sock", "unix:/csi.sock", ""])
def test_socket_path_needs_unix(endpoint: str) -> None:
    with pytest.raises(ValueError, match=r"must be unix://PATH"):
        _ = config(endpoint=endpoint).socket_path


def test_driver_name() -> None:
    assert CSIConfig.model_validate({"driver": "cephfs"}).driver_name == "cephfs.csi.storage.baremetal.io"
    assert CSIConfig.model_validate({"driver": "rbd"}).driver_name == "rbd.csi.storage.baremetal.io"


@pytest.mark.parametrize(
    ("mode", "controller", "node"), [("controller", True, False), ("node", False, True), ("all", True, True)]
)
def test_modes(mode: str, controller: bool, node: bool) -> None:
    cfg = config(mode=mode)
    assert cfg.serves_controller is controller
    assert cfg.serves_node is node


# ---------------------------------------------------------------------------- CephFS on a node

KEY = "AQBzq3RlAAAAABAAm2yN+7ZVOTqpXqJeMbL5YA=="
KEYFILE = Path("/var/lib/storage-operator/csi/keys/k-1")
MONS = "[v2:10.0.0.1:3300,v1:10.0.0.1:6789],[v2:10.0.0.2:3300,v1:10.0.0.2:6789]"


def fuse_argv(read_only: bool) -> list[str]:
    return build_fuse_argv(
        monitors=MONS,
        user="csi-node",
        keyfile=KEYFILE,
        fs_name="shared",
        path="/volumes/csi/csi-vol-1/abcd",
        target=Path("/staging/globalmount"),
        home=Path("/state/vol-1"),
        read_only=read_only,
    )


def option(argv: list[str], flag: str) -> str:
    """The value after ``flag`` in ``argv`` (the flag must be there once)."""
    assert argv.count(flag) == 1
    return argv[argv.index(flag) + 1]


def test_fuse_argv() -> None:
    argv = fuse_argv(read_only=False)
    assert argv[:2] == ["ceph-fuse", "/staging/globalmount"]
    assert option(argv, "-c") == "/dev/null"
    assert option(argv, "-m") == MONS
    assert option(argv, "--id") == "csi-node"
    assert option(argv, "--keyfile") == str(KEYFILE)
    assert option(argv, "--client_fs") == "shared"
    assert option(argv, "-r") == "/volumes/csi/csi-vol-1/abcd"
    assert "--admin-socket=/state/vol-1/ceph-fuse.asok" in argv
    assert "--log-file=/state/vol-1/ceph-fuse.log" in argv
    assert "-o" not in argv
    assert "ro" not in argv


def test_fuse_argv_read_only() -> None:
    argv = fuse_argv(read_only=True)
    assert option(argv, "-o") == "ro"
    assert argv[-2:] == ["-o", "ro"]


@pytest.mark.parametrize("read_only", [False, True])
def test_fuse_argv_has_no_key(read_only: bool) -> None:
    argv = fuse_argv(read_only)
    assert not any(KEY in arg for arg in argv)
    assert not any(arg in ("--key", "-k") or arg.startswith(("--key=", "--secret")) for arg in argv)


@pytest.mark.parametrize("read_only", [False, True])
def test_kernel_mount(read_only: bool) -> None:
    source, options = build_kernel_mount(
        monitors=("[v2:10.0.0.1:3300,v1:10.0.0.1:6789]", "[v2:10.0.0.2:3300,v1:10.0.0.2:6789]"),
        user="csi-node",
        keyfile=KEYFILE,
        fs_name="shared",
        path="/volumes/csi/csi-vol-1/abcd",
        read_only=read_only,
    )
    assert source == "10.0.0.1:6789,10.0.0.2:6789:/volumes/csi/csi-vol-1/abcd"
    expected = ("name=csi-node", f"secretfile={KEYFILE}", "mds_namespace=shared")
    assert options == ((*expected, "ro") if read_only else expected)
    assert not any(KEY in o for o in options)


@pytest.mark.parametrize(
    ("monitor", "host"),
    [
        pytest.param("[v1:10.0.0.1:6789,v2:10.0.0.1:3300]", "10.0.0.1:6789", id="v1-second"),
        pytest.param("v1:10.0.0.1:6789/0", "10.0.0.1:6789", id="v1-nonce"),
        pytest.param("10.0.0.1:6789", "10.0.0.1:6789", id="plain"),
        pytest.param("10.0.0.1", "10.0.0.1", id="bare"),
    ],
)
def test_kernel_mount_v1_address_chosen(monitor: str, host: str) -> None:
    source, _ = build_kernel_mount(
        monitors=(monitor,), user="u", keyfile=KEYFILE, fs_name="fs", path="/p", read_only=False
    )
    assert source == f"{host}:/p"


# ---------------------------------------------------------------------------- RBD on a node


def test_rbd_fuse_argv() -> None:
    argv = build_rbd_fuse_argv(
        monitors=MONS,
        user="csi-node",
        keyfile=KEYFILE,
        pool="replicapool",
        image="csi-vol-1",
        target=Path("/state/vol-1/image"),
    )
    assert argv[0] == "rbd-fuse"
    assert argv[-1] == "/state/vol-1/image"
    assert option(argv, "-c") == "/dev/null"
    assert option(argv, "-m") == MONS
    assert option(argv, "--id") == "csi-node"
    assert option(argv, "--keyfile") == str(KEYFILE)
    assert option(argv, "-p") == "replicapool"
    assert option(argv, "-r") == "csi-vol-1"


def test_krbd_map_argv() -> None:
    argv = build_krbd_map_argv(monitors=MONS, user="csi-node", keyfile=KEYFILE, pool="replicapool", image="csi-vol-1")
    assert argv[:4] == ["rbd", "device", "map", "replicapool/csi-vol-1"]
    assert option(argv, "-m") == MONS
    assert option(argv, "--id") == "csi-node"
    assert option(argv, "--keyfile") == str(KEYFILE)


def mount_cap(*flags: str) -> csi_pb2.VolumeCapability:
    return csi_pb2.VolumeCapability(
        mount=csi_pb2.VolumeCapability.MountVolume(fs_type="ext4", mount_flags=list(flags)),
        access_mode=csi_pb2.VolumeCapability.AccessMode(mode="SINGLE_NODE_WRITER"),
    )


@pytest.mark.parametrize(
    ("flags", "read_only", "expected"),
    [
        pytest.param((), False, (), id="none"),
        pytest.param((), True, ("ro",), id="read-only"),
        pytest.param(("noatime", "discard"), False, ("noatime", "discard"), id="flags-in-order"),
        pytest.param(("noatime", "", "discard"), True, ("noatime", "discard", "ro"), id="empty-flag-dropped"),
    ],
)
def test_mount_options(flags: tuple[str, ...], read_only: bool, expected: tuple[str, ...]) -> None:
    assert mount_options(mount_cap(*flags), read_only) == expected


def test_mount_options_of_a_block_capability() -> None:
    cap = csi_pb2.VolumeCapability(block=csi_pb2.VolumeCapability.BlockVolume())
    assert mount_options(cap, read_only=True) == ("ro",)


def test_parse_mountinfo_skips_a_line_whose_mount_id_is_not_a_number() -> None:
    text = "x 0 0:1 / /a rw - tmpfs tmpfs rw\n2 0 0:2 / /b rw - tmpfs tmpfs rw\n"
    assert [e.mount_point for e in parse_mountinfo(text)] == ["/b"]
