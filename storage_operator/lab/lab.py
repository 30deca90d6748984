"""Bring the lab up step by step, report it, and take it down again, leaving nothing behind.

Later parts (operator, node agents, CSI plugin, examples) plug in as more ``Step``s: a name and a
function that starts something through ``LabContext.spawn`` (so teardown finds it) and returns one line
for the progress output.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from storage_operator.errors import LabError
from storage_operator.kube.apply import apply_manifests
from storage_operator.kube.client import connect
from storage_operator.lab import containerd, hostsettings, kubelet, loopdev, mounts, ports, processes
from storage_operator.lab.agents import await_agents, spawn_agents
from storage_operator.lab.binaries import (
    NODE_TOOLS,
    Binaries,
    load_versions,
    require_debian_tools,
    require_runtime_series,
)
from storage_operator.lab.ceph import start_ceph
from storage_operator.lab.cluster import install_crds, register_nodes, store_ceph_secret
from storage_operator.lab.config import LabConfig
from storage_operator.lab.context import LabContext
from storage_operator.lab.controlplane import (
    start_apiserver,
    start_controllers,
    start_etcd,
    write_pki_and_kubeconfigs,
)
from storage_operator.lab.csi import await_csi, start_csi
from storage_operator.lab.disks import attach_node_disks
from storage_operator.lab.nfs import start_nfs
from storage_operator.lab.operator import apply_examples, await_operator, operator_manifests, spawn_operator
from storage_operator.lab.shell import write_shell_env
from storage_operator.lab.state import LabState, ProcessRecord, StateStore, exclusive
from storage_operator.lab.workloads import await_workloads, deploy_workloads

Say = Callable[[str], None]


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[LabContext], str]


def start_components(ctx: LabContext) -> str:
    """The project's own processes: the operator and one node agent per simulated node (they
    authenticate as their ServiceAccounts; the steps that await them come after Ceph and NFS are up).
    On the node profile the operator and the real node's agent are pods instead (step "workloads")."""
    # The operator's namespace, ServiceAccount and RBAC first (the agents' objects live in that namespace);
    # its Deployment runs only on the node profile, with the workloads.
    with connect(ctx.config.paths.kubeconfig) as api:
        apply_manifests(api, operator_manifests())
    agents = spawn_agents(ctx)
    if ctx.config.real_nodes:
        return f"{len(agents)} node agents for the simulated nodes starting (the real node's are pods)"
    operator = spawn_operator(ctx)
    return f"storage-operator (pid {operator.pid}) and {len(agents)} node agents starting"


def await_components(ctx: LabContext) -> str:
    if ctx.config.real_nodes:
        return await_workloads(ctx)
    return await_operator(ctx)


PROCESS_STEPS: tuple[Step, ...] = (
    Step("certificates", write_pki_and_kubeconfigs),
    Step("disks", attach_node_disks),
    Step("etcd", start_etcd),
    Step("kube-apiserver", start_apiserver),
    Step("controllers", start_controllers),
    Step("nodes", register_nodes),
    Step("crds", install_crds),
    # Started now, so that their start-up (Python, first scan) overlaps Ceph's; awaited below.
    Step("components", start_components),
    Step("ceph", start_ceph),
    Step("ceph secret", store_ceph_secret),
    # The CSI plugins need Ceph (their user is made there); awaited after the examples they test against.
    Step("csi", start_csi),
    Step("nfs", start_nfs),
    Step("operator", await_operator),
    Step("agents", await_agents),
    Step("examples", apply_examples),
    Step("csi ready", await_csi),
    Step("shell", write_shell_env),
)

# The node profile: the same, plus a real node whose pods are the operator and the agent from manifests/.
# The pods start while Ceph and NFS come up; their Deployment/DaemonSet are awaited where the operator
# process is on the process profile.
NODE_STEPS: tuple[Step, ...] = (
    *PROCESS_STEPS[: [s.name for s in PROCESS_STEPS].index("components") + 1],
    Step("host", kubelet.prepare_host),
    Step("containerd", containerd.start_containerd),
    Step("images", containerd.import_images),
    Step("kubelet", kubelet.start_kubelet),
    Step("workloads", deploy_workloads),
    *[
        Step("operator", await_components) if s.name == "operator" else s
        for s in PROCESS_STEPS[[s.name for s in PROCESS_STEPS].index("components") + 1 :]
    ],
)


def steps_for(config: LabConfig) -> tuple[Step, ...]:
    return NODE_STEPS if config.profile == "node" else PROCESS_STEPS


# Programs the lab runs: only processes of these are ever stopped by the leftover scan.
LAB_PROGRAMS = frozenset(
    {
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "ceph-mon",
        "ceph-mgr",
        "ceph-osd",
        "ceph-mds",
        "ganesha.nfsd",
        "ceph-fuse",
        "rbd-fuse",
        "containerd",
        "containerd-shim-runc-v2",
        "kubelet",
    }
)


# The project's own processes run as `python -m storage_operator ...` or `python -m csi ...`; the
# leftover scan knows them by that.
PYTHON_COMPONENTS = frozenset({b"storage_operator", b"csi"})

STOP_LAST = frozenset({"etcd"})

# A lab directory carries this marker; only such a directory (or one holding nothing but what a lab
# writes) is ever cleared, so a mistaken LAB_DIR cannot wipe someone's files.
LAB_MARKER = ".storage-operator-lab"
LAB_ENTRIES = frozenset(
    {
        "lock",
        "state.json",
        "state.tmp",
        "logs",
        "kubeconfig",
        "env",
        "bin",
        "pki",
        "etcd",
        "kube",
        "ceph",
        "nfs",
        "disks",
        "csi",
        "node",
        "host.json",
        LAB_MARKER,
    }
)


@dataclass
class DownReport:
    stopped: list[str] = field(default_factory=list)
    killed: list[str] = field(default_factory=list)
    detached: list[str] = field(default_factory=list)
    unmounted: list[str] = field(default_factory=list)


class Lab:
    def __init__(self, config: LabConfig, *, steps: Sequence[Step] | None = None, say: Say = print) -> None:
        self.config = config
        self.steps = tuple(steps) if steps is not None else steps_for(config)
        self.say = say
        self.store = StateStore(config.paths.state_file)

    # ------------------------------------------------------------------ up
    def up(self) -> LabState:
        """Bring the lab up; if it already is, say so and return its state unchanged."""
        with exclusive(self.config.paths.lock_file):
            existing = self.store.load()
            if existing is not None and existing.phase == "ready" and self._all_running(existing):
                switch = (
                    f" It runs the {existing.profile} profile, not the {self.config.profile} one asked for: "
                    "take it down first to switch."
                    if existing.profile != self.config.profile
                    else ""
                )
                self.say(
                    f"a lab is already up at {self.config.root} ({existing.profile} profile, ready since "
                    f"{existing.ready_at:%H:%M:%S}); nothing to do. `make lab-down` stops it.{switch}"
                )
                return existing
            if existing is not None or self._leftovers():
                self.say("found leftovers of an earlier lab run; removing them first")
                self._teardown(existing, keep_logs=True)
            versions = load_versions()
            binaries = Binaries.in_cache(self.config.cache_dir, versions)
            self._preflight(binaries, versions)
            self._prepare_directory()
            state = LabState(port_base=self.config.port_base, profile=self.config.profile)
            self.store.save(state)
            ctx = LabContext(
                config=self.config,
                binaries=binaries,
                versions=versions,
                state=state,
                store=self.store,
            )
            t0 = time.monotonic()
            for step in self.steps:
                started = time.monotonic()
                try:
                    detail = step.run(ctx)
                except BaseException as exc:
                    self.say(f"[{time.monotonic() - t0:6.1f}s] FAILED  {step.name}: {exc}")
                    self.say(f"cleaning up; logs kept in {self.config.paths.logs}")
                    self._teardown(state, keep_logs=True)
                    raise
                took = time.monotonic() - started
                state.step_seconds[step.name] = round(took, 3)
                self.store.save(state)
                self.say(f"[{time.monotonic() - t0:6.1f}s] {step.name:<15} {detail} ({took:.1f}s)")
            state.phase = "ready"
            state.ready_at = datetime.now(UTC)
            self.store.save(state)
            self.say(f"lab ready in {time.monotonic() - t0:.1f} s")
            return state

    def _preflight(self, binaries: Binaries, versions: dict[str, str]) -> None:
        if os.geteuid() != 0:
            raise LabError("the lab needs root (loop devices, NFS-Ganesha's VFS export): run it as root")
        require_debian_tools()
        binaries.require_control_plane()
        if self.config.real_nodes:
            require_debian_tools(NODE_TOOLS)
            require_runtime_series(versions)
            binaries.require_kubelet()
        p = self.config.ports
        ports.require_free(
            self.config.listeners(),
            {"Ceph messengers": p.ceph_msgr_range()},
            hint=f"stop whatever holds it, or move the lab with LAB_PORT_BASE (now {p.base}; "
            "it takes 400 ports from there)",
        )

    def _prepare_directory(self) -> None:
        root = self.config.root
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o755)
        self._claim_directory()
        self._clear(keep_logs=False)
        self.config.paths.logs.mkdir()

    def _claim_directory(self) -> None:
        """Refuse to wipe a directory that is not a lab's (LAB_DIR pointed at someone's files)."""
        root = self.config.root
        foreign = sorted({e.name for e in root.iterdir()} - LAB_ENTRIES)
        if foreign and not (root / LAB_MARKER).exists():
            raise LabError(
                f"{root} holds files that are not a lab's ({', '.join(foreign[:3])}"
                f"{', ...' if len(foreign) > 3 else ''}); set LAB_DIR to a new or empty directory"
            )
        (root / LAB_MARKER).touch()

    def _clear(self, *, keep_logs: bool) -> None:
        """Remove what the lab wrote under its directory; never anything in a directory it did not claim."""
        root = self.config.root
        if not (root / LAB_MARKER).exists():
            return
        keep = {self.config.paths.lock_file.name, LAB_MARKER} | ({"logs"} if keep_logs else set())
        for entry in root.iterdir():
            if entry.name in keep:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    # ------------------------------------------------------------------ down
    def down(self, *, keep_logs: bool = True) -> DownReport:
        with exclusive(self.config.paths.lock_file):
            state = self.store.load()
            if state is None and not self._leftovers():
                self.say(f"no lab at {self.config.root}; nothing to do")
                return DownReport()
            report = self._teardown(state, keep_logs=keep_logs)
        self.say(
            f"lab down: stopped {len(report.stopped)} processes"
            + (f" ({', '.join(report.killed)} needed SIGKILL)" if report.killed else "")
            + f", detached {len(report.detached)} loop devices, unmounted {len(report.unmounted)} mounts"
            + (f"; logs kept in {self.config.paths.logs}" if keep_logs else "")
        )
        return report

    def _teardown(self, state: LabState | None, *, keep_logs: bool) -> DownReport:
        report = DownReport()
        if state is not None:
            state.phase = "stopping"
            self.store.save(state)
        if state is not None:
            self._stop_real_node(state, report)
        records = list(reversed(state.processes)) if state else []
        known = {r.pid for r in records}
        records += [r for r in self._stray_processes() if r.pid not in known]
        running = [r for r in records if processes.is_running(r)]
        report.stopped += [f"{r.name} (pid {r.pid})" for r in running]
        # Everything at once, except what others need to shut down gracefully (the API server drains
        # into etcd; with etcd gone first it hangs until SIGKILL).
        first = [r for r in running if r.name not in STOP_LAST]
        report.killed += processes.stop(first, timeout=15)
        report.killed += processes.stop([r for r in running if r.name in STOP_LAST], timeout=15)
        # By this lab's name (derived from its port base): found even when the state file was lost.
        hostsettings.remove_cgroup_root(kubelet.cgroup_root(self.config))
        # Stacked mounts (the kubelet bind-mounts its root dir onto itself) need more than one pass.
        for _ in range(5):
            points = mounts.mounts_under(self.config.root)
            if not points:
                break
            for point in points:
                mounts.unmount(point)
                report.unmounted.append(point)
        self._restore_host()
        for loop in loopdev.attached_under(self.config.root):
            loopdev.detach(loop.device)
            report.detached.append(loop.device)
        self._clear(keep_logs=keep_logs)
        self._verify_clean()
        return report

    def _stop_real_node(self, state: LabState, report: DownReport) -> None:
        """The kubelet first (so it restarts nothing), then every container through the runtime while it
        still answers; what remains after that is killed by cgroup on the way out."""
        kubelet_record = state.process(kubelet.PROCESS_NAME)
        if kubelet_record is not None and processes.is_running(kubelet_record):
            report.killed += processes.stop([kubelet_record], timeout=15)
            report.stopped.append(f"{kubelet_record.name} (pid {kubelet_record.pid})")
        runtime = state.process(containerd.PROCESS_NAME)
        if runtime is not None and processes.is_running(runtime):
            containerd.remove_containers(containerd.RuntimePaths.of(self.config))

    def _restore_host(self) -> None:
        """Undo what a real node changed on the host: the bridge goes by this lab's name (derived from the
        port base); kernel settings and /run/containerd as .lab/host.json recorded them before."""
        hostsettings.delete_bridge(self.config.node_network.bridge)
        kept = hostsettings.load_host_record(self.config.paths.host_record)
        if kept is not None:
            hostsettings.restore_sysctls(kept.sysctls)
            if kept.created_shim_run_dir:
                containerd.remove_shim_run_dir()

    def _verify_clean(self) -> None:
        problems = []
        strays = self._stray_processes()
        if strays:
            problems.append("processes still running: " + ", ".join(f"{r.name} (pid {r.pid})" for r in strays))
        loops = loopdev.attached_under(self.config.root)
        if loops:
            problems.append("loop devices still attached: " + ", ".join(d.device for d in loops))
        p = self.config.ports
        busy = ports.listening_in([*self.config.listeners().values(), *p.ceph_msgr_range()])
        if busy:
            problems.append(f"ports still listening: {busy}")
        bridge = self.config.node_network.bridge
        if hostsettings.link_exists(bridge):
            problems.append(f"the lab's bridge {bridge} still exists")
        if problems:
            raise LabError("lab teardown left things behind: " + "; ".join(problems))

    # ------------------------------------------------------------------ one process at a time (tests, benchmarks)
    def stop_process(self, name: str, *, kill: bool = False) -> ProcessRecord:
        """Stop one of the lab's processes (SIGTERM, or SIGKILL); its record stays for ``start_process``."""
        with exclusive(self.config.paths.lock_file):
            record = self._record(name)
            if kill:
                processes.kill(record)
            else:
                processes.stop([record], timeout=30)
            return record

    def start_process(self, name: str) -> ProcessRecord:
        """Start a stopped process of the lab again, the same way; the record gets the new PID."""
        with exclusive(self.config.paths.lock_file):
            state = self._loaded()
            record = self._record(name, state)
            if processes.is_running(record):
                raise LabError(f"{name} (pid {record.pid}) is still running")
            fresh = processes.respawn(record)
            state.processes = [fresh if p.name == name else p for p in state.processes]
            self.store.save(state)
            return fresh

    def spawn(
        self, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> ProcessRecord:
        """Start one more process as part of the lab (teardown stops it with the rest)."""
        with exclusive(self.config.paths.lock_file):
            state = self._loaded()
            if any(p.name == name for p in state.processes):
                raise LabError(f"the lab already has a process named {name}")
            record = processes.spawn(name, argv, log=self.config.paths.log(name), env=env, cwd=cwd)
            state.processes.append(record)
            self.store.save(state)
            return record

    def forget_process(self, name: str) -> None:
        """Stop a process started with ``spawn`` and drop it from the record."""
        with exclusive(self.config.paths.lock_file):
            state = self._loaded()
            record = self._record(name, state)
            processes.stop([record], timeout=30)
            state.processes = [p for p in state.processes if p.name != name]
            self.store.save(state)

    def _loaded(self) -> LabState:
        state = self.store.load()
        if state is None:
            raise LabError(f"no lab at {self.config.root}")
        return state

    def _record(self, name: str, state: LabState | None = None) -> ProcessRecord:
        found = (state or self._loaded()).process(name)
        if found is None:
            raise LabError(f"the lab has no process named {name}")
        return found

    # ------------------------------------------------------------------ observation
    def state(self) -> LabState | None:
        return self.store.load()

    def _all_running(self, state: LabState) -> bool:
        return bool(state.processes) and all(processes.is_running(r) for r in state.processes)

    def _leftovers(self) -> bool:
        return bool(self._stray_processes() or loopdev.attached_under(self.config.root))

    def _stray_processes(self) -> list[ProcessRecord]:
        """Lab programs whose command line names this lab's directory (found even without a state file)."""
        roots = {str(self.config.root) + os.sep, str(self.config.root.resolve()) + os.sep}
        me = os.getpid()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == me:
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                exe = (entry / "exe").readlink().name
            except OSError:
                continue
            ours = exe in LAB_PROGRAMS or (exe.startswith("python") and bool(PYTHON_COMPONENTS & set(argv)))
            if not ours or not any(r.encode() in a for r in roots for a in argv):
                continue
            stat = processes.proc_stat(int(entry.name))
            if stat is None or stat[0] == "Z":
                continue
            found.append(ProcessRecord(name=exe, pid=int(entry.name), start_ticks=stat[1], argv0=exe, log=""))
        return found
