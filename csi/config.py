"""Every setting of the plugin, from flags or CSI_* environment variables (one place, documented here)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from csi.ids import Kind

Mode = Literal["controller", "node", "all"]
DRIVER_NAMES: dict[Kind, str] = {
    "cephfs": "cephfs.csi.storage.baremetal.io",
    "rbd": "rbd.csi.storage.baremetal.io",
}


class CSIConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CSI_", extra="ignore")

    driver: Kind = Field(description="which volumes this plugin serves: cephfs (subvolumes) or rbd (images)")
    mode: Mode = Field("all", description="controller, node, or both in one process")
    endpoint: str = Field("unix:///csi/csi.sock", description="where to serve gRPC: unix://PATH")
    node_id: str = Field("", description="this node's name (node mode; NodeGetInfo)")
    monitors: str = Field("", description="Ceph monitor addresses, comma separated ([v2:IP:PORT,v1:IP:PORT],...)")
    user_id: str = Field(
        "", description="the controller's own Ceph user, for calls without secrets (ListVolumes, GetCapacity)"
    )
    user_key: SecretStr = Field(SecretStr(""), description="its cephx key")
    state_dir: Path = Field(
        Path("/var/lib/storage-operator/csi"), description="node: per-volume state (mounts, mappers)"
    )
    metrics_address: str = Field("", description="serve Prometheus /metrics on HOST:PORT (empty: off)")
    clone_wait: float = Field(20.0, description="seconds CreateVolume waits for a CephFS clone before ABORTED")
    log_level: str = Field("INFO")
    log_format: Literal["text", "json"] = Field("text")

    @property
    def driver_name(self) -> str:
        return DRIVER_NAMES[self.driver]

    @property
    def monitor_list(self) -> tuple[str, ...]:
        # Monitors are separated by commas, but one monitor's [v2:...,v1:...] holds commas itself.
        out: list[str] = []
        depth, current = 0, ""
        for ch in self.monitors:
            if ch == "," and depth == 0:
                if current.strip():
                    out.append(current.strip())
                current = ""
                continue
            depth += ch == "["
            depth -= ch == "]"
            current += ch
        if current.strip():
            out.append(current.strip())
        return tuple(out)

    @property
    def socket_path(self) -> Path:
        if not self.endpoint.startswith("unix://"):
            raise ValueError(f"endpoint {self.endpoint!r} must be unix://PATH")
        return Path(self.endpoint.removeprefix("unix://"))

    @property
    def serves_controller(self) -> bool:
        return self.mode in ("controller", "all")

    @property
    def serves_node(self) -> bool:
        return self.mode in ("node", "all")
