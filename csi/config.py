"""Every setting of the plugin, from flags or CSI_* environment variables (one place, documented here)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
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
    metrics_address: str = Field("", description="serve Prometheus /metrics and /healthz on HOST:PORT (empty: off)")
    kubelet_registration_path: str = Field(
        "", description="node: the path of the CSI socket on the host, as the kubelet dials it (with registration_dir)"
    )
    # Checked against the fields above, so it comes after them; checked also when left unset (None).
    registration_dir: Path | None = Field(
        None,
        validate_default=True,
        description="node: register with the kubelet by serving <driver name>-reg.sock in this directory "
        "(the kubelet's plugins_registry); with kubelet_registration_path",
    )
    clone_wait: float = Field(20.0, description="seconds CreateVolume waits for a CephFS clone before ABORTED")
    log_level: str = Field("INFO")
    log_format: Literal["text", "json"] = Field("text")

    @field_validator("kubelet_registration_path")
    @classmethod
    def _host_path(cls, value: str) -> str:
        # The kubelet dials the endpoint as a bare unix socket path: a unix:// URL would not be found.
        if value and not value.startswith("/"):
            raise ValueError(f"{value!r} must be the absolute path of the socket on the host (no unix://)")
        return value

    @field_validator("registration_dir", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        # CSI_REGISTRATION_DIR="" means unset, not the working directory.
        return None if value == "" else value

    @field_validator("registration_dir")
    @classmethod
    def _registration_together(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        # A field validator (not a model validator) so that an error shows this field's value only, never
        # the whole input with user_key in it.
        if "kubelet_registration_path" not in info.data:
            return value  # it failed its own check, which says why
        if (value is None) != (not info.data["kubelet_registration_path"]):
            raise ValueError(
                "kubelet_registration_path and registration_dir go together: give both to register with the "
                "kubelet, or neither"
            )
        if value is not None and info.data.get("mode") == "controller":
            raise ValueError("kubelet registration is for a node plugin: not in mode controller")
        return value

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
    def registration_socket(self) -> Path | None:
        """Where to serve the kubelet's Registration service, if the plugin registers itself."""
        if self.registration_dir is None:
            return None
        return self.registration_dir / f"{self.driver_name}-reg.sock"

    @property
    def serves_controller(self) -> bool:
        return self.mode in ("controller", "all")

    @property
    def serves_node(self) -> bool:
        return self.mode in ("node", "all")
