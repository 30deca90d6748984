"""What every lab step gets: the config, the programs, and the state it must record into."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from storage_operator.lab import processes
from storage_operator.lab.binaries import Binaries
from storage_operator.lab.config import LabConfig
from storage_operator.lab.pki import ControlPlanePki
from storage_operator.lab.state import LabState, LoopRecord, ProcessRecord, StateStore

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"  # first address of SERVICE_CIDR: the `kubernetes` Service


@dataclass
class LabContext:
    config: LabConfig
    binaries: Binaries
    versions: Mapping[str, str]
    state: LabState
    store: StateStore

    @property
    def pki(self) -> ControlPlanePki:
        return ControlPlanePki(self.config.paths.pki)

    @property
    def apiserver_url(self) -> str:
        return f"https://127.0.0.1:{self.config.ports.apiserver}"

    def kubeconfig_for(self, component: str) -> Path:
        return self.config.paths.kube / f"{component}.kubeconfig"

    def spawn(
        self, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> ProcessRecord:
        """Start a daemon and record it at once, so a crash right after still leaves a trace."""
        record = processes.spawn(name, argv, log=self.config.paths.log(name), env=env, cwd=cwd)
        self.state.processes.append(record)
        self.store.save(self.state)
        return record

    def record_loop(self, device: str, backing_file: Path, node: str) -> None:
        self.state.loops.append(LoopRecord(device=device, backing_file=str(backing_file), node=node))
        self.store.save(self.state)
