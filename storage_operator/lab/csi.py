"""The CSI plugin in the lab: one process per driver (cephfs, rbd) in mode "all", each on
``.lab/csi/<driver>/csi.sock``, with a Ceph user of its own (``client.csi``: the caps a CSI driver needs,
not admin's). Beside each socket the files csi-sanity takes, so anyone can run the conformance suite
against the lab by hand (README: "CSI driver").
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import grpc
import yaml

from csi.config import DRIVER_NAMES
from csi.ids import Kind
from csi.proto import csi_pb2, csi_pb2_grpc
from storage_operator.ceph.client import CephClient
from storage_operator.errors import LabError
from storage_operator.lab import probe
from storage_operator.lab.binaries import REPO_ROOT
from storage_operator.lab.ceph import CephLayout, mon_host
from storage_operator.lab.config import LabConfig
from storage_operator.lab.context import LabContext

DRIVERS: tuple[Kind, ...] = ("cephfs", "rbd")
CSI_USER = "csi"
# What the driver does with Ceph, and nothing more: read the maps; RBD images and the journal in RBD
# pools (profile rbd); CephFS subvolumes through the mgr; files and the journal in CephFS pools; mounts.
CSI_CAPS = {
    "mon": "profile rbd, allow r",
    "mgr": "allow rw",
    "osd": "profile rbd, allow rw tag cephfs metadata=*, allow rw tag cephfs data=*",
    "mds": "allow rw",
}
# The lab's examples make these: the file system "shared" and the replicated RBD pool "replicapool".
SANITY_PARAMETERS = {"cephfs": {"fsName": "shared"}, "rbd": {"pool": "replicapool"}}
SANITY_SECRET_SECTIONS = (
    "CreateVolumeSecret",
    "DeleteVolumeSecret",
    "ControllerPublishVolumeSecret",
    "ControllerUnpublishVolumeSecret",
    "ControllerValidateVolumeCapabilitiesSecret",
    "NodeStageVolumeSecret",
    "NodePublishVolumeSecret",
    "CreateSnapshotSecret",
    "DeleteSnapshotSecret",
    "ControllerExpandVolumeSecret",
    "ListSnapshotsSecret",
    "GetSnapshotSecret",
)


def csi_dir(config: LabConfig, driver: str) -> Path:
    return config.root / "csi" / driver


def socket_path(config: LabConfig, driver: str) -> Path:
    return csi_dir(config, driver) / "csi.sock"


def process_name(driver: str) -> str:
    return f"csi-{driver}"


def build_plugin_argv(config: LabConfig, driver: str) -> list[str]:
    home = csi_dir(config, driver)
    return [
        sys.executable, "-m", "csi",
        "--driver", driver,
        "--mode", "all",
        "--endpoint", f"unix://{home / 'csi.sock'}",
        "--node-id", config.nodes[0],
        "--monitors", mon_host(config),
        "--state-dir", str(home / "state"),
        "--metrics-address", f"127.0.0.1:{config.ports.csi_metrics(driver)}",
    ]  # fmt: skip


def sanity_secrets(key: str) -> dict[str, dict[str, str]]:
    return {section: {"userID": CSI_USER, "userKey": key} for section in SANITY_SECRET_SECTIONS}


def sanity_command(config: LabConfig, driver: str, csi_sanity: Path, *, access_type: str = "mount") -> list[str]:
    """csi-sanity against the lab's plugin for ``driver``, as the README shows it."""
    home = csi_dir(config, driver)
    argv = [
        str(csi_sanity),
        f"--csi.endpoint=unix://{home / 'csi.sock'}",
        f"--csi.testvolumeparameters={home / 'sanity-params.yaml'}",
        f"--csi.secrets={home / 'sanity-secrets.yaml'}",
        f"--csi.mountdir={home / 'sanity' / 'mount'}",
        f"--csi.stagingdir={home / 'sanity' / 'staging'}",
    ]
    if access_type != "mount":
        argv.append(f"--csi.testvolumeaccesstype={access_type}")
    return argv


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def ensure_csi_user(config: LabConfig) -> str:
    """The key of ``client.csi`` (created with CSI_CAPS the first time)."""
    layout = CephLayout(config.paths.ceph)
    caps = [item for service, cap in CSI_CAPS.items() for item in (service, cap)]
    with CephClient(conffile=layout.conf, keyring=layout.admin_keyring) as ceph:
        reply = ceph.mon_command("auth get-or-create", entity=f"client.{CSI_USER}", caps=caps)
    return str(reply[0]["key"])


def start_csi(ctx: LabContext) -> str:
    key = ensure_csi_user(ctx.config)
    for driver in DRIVERS:
        home = csi_dir(ctx.config, driver)
        (home / "sanity").mkdir(parents=True, exist_ok=True)
        (home / "sanity-params.yaml").write_text(yaml.safe_dump(SANITY_PARAMETERS[driver]))
        _write_private(home / "sanity-secrets.yaml", yaml.safe_dump(sanity_secrets(key)))
        # The key reaches the plugin in its environment (readable by root only), never in argv.
        env = {"CSI_USER_ID": CSI_USER, "CSI_USER_KEY": key, "CSI_LOG_LEVEL": "INFO"}
        ctx.spawn(process_name(driver), build_plugin_argv(ctx.config, driver), env=env, cwd=REPO_ROOT)
    return f"plugins for {', '.join(DRIVERS)} starting as Ceph user client.{CSI_USER}"


def probe_plugin(path: Path, timeout: float = 2.0) -> str | None:
    """The plugin's name when it answers Probe with ready, else None."""
    if not path.exists():
        return None
    try:
        with grpc.insecure_channel(f"unix://{path}") as channel:
            identity = csi_pb2_grpc.IdentityStub(channel)
            ready = identity.Probe(csi_pb2.ProbeRequest(), timeout=timeout)
            if not ready.ready.value:
                return None
            return str(identity.GetPluginInfo(csi_pb2.GetPluginInfoRequest(), timeout=timeout).name)
    except grpc.RpcError:
        return None


def _prober(path: Path) -> Callable[[], str | None]:
    return lambda: probe_plugin(path)


def await_csi(ctx: LabContext) -> str:
    names = []
    for driver in DRIVERS:
        record = ctx.state.process(process_name(driver))
        if record is None:
            raise LabError(f"the {driver} CSI plugin was not started")
        path = socket_path(ctx.config, driver)
        probe.wait_for(f"{DRIVER_NAMES[driver]} ready", _prober(path), timeout=60, watch=(record,))
        names.append(f"{DRIVER_NAMES[driver]} (pid {record.pid})")
    return "; ".join(names)
