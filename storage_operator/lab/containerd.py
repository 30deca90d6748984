"""The real node's container runtime: Debian's containerd 1.6 with runc and the CNI plugins, every file
of it under the lab's directory, and the project's images imported from the OCI archives that
hack/build-image.sh builds (no registry anywhere).

``render_*`` are pure; the rest starts, imports and cleans up.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from storage_operator.errors import LabError
from storage_operator.lab import probe
from storage_operator.lab.binaries import REPO_ROOT
from storage_operator.lab.config import LabConfig
from storage_operator.lab.context import LabContext

PROCESS_NAME = "containerd"
NAMESPACE = "k8s.io"  # the CRI plugin's namespace: what the kubelet sees
CNI_BIN_DIR = "/usr/lib/cni"  # Debian's containernetworking-plugins
# Names the lab gives the imported images; manifests/lab/ points the workloads at IMAGE.
IMAGE = "localhost/storage-operator:lab"
# The image with the Ceph daemons: the agent (ceph-osd --mkfs) and a managed cluster's daemons run it.
CEPH_IMAGE = "localhost/storage-operator-ceph:lab"
PAUSE_IMAGE = "localhost/lab-pause:lab"
BUILD_IMAGE = REPO_ROOT / "hack" / "build-image.sh"
# containerd 1.6 puts its shims' sockets here whatever its root and state say; removed when the lab made it.
SHIM_RUN_DIR = Path("/run/containerd")


@dataclass(frozen=True)
class RuntimePaths:
    """``root``: the runtime's files that live and die with the lab (state, socket, config).
    ``images``: containerd's own root (content store, unpacked snapshots, image metadata), kept in the
    cache per lab directory, so the next lab finds the project's image imported and unpacked (unpacking
    500 MB takes this machine about 20 s; a lab with a cached image starts its pods at once)."""

    root: Path
    images: Path

    @classmethod
    def of(cls, config: LabConfig) -> RuntimePaths:
        key = hashlib.sha256(str(config.root).encode()).hexdigest()[:12]
        return cls(config.paths.node / "containerd", config.cache_dir / "node-runtime" / key)

    @property
    def imported_record(self) -> Path:
        """Which archive each lab image name was imported from."""
        return self.images / "lab-images.json"

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def socket(self) -> Path:
        return self.root / "containerd.sock"

    @property
    def cni_conf_dir(self) -> Path:
        return self.root.parent / "cni" / "net.d"

    @property
    def cni_ipam_dir(self) -> Path:
        return self.root.parent / "cni" / "ipam"


def render_containerd_config(config: LabConfig, paths: RuntimePaths) -> str:
    """containerd 1.6 as LAB-NOTES verified it: cgroupfs (no systemd), overlayfs, no AppArmor, and
    restrict_oom_score_adj (root here lacks CAP_SYS_RESOURCE, so a pod's lower OOM score would fail)."""
    r = paths.root
    return f"""version = 2
root = "{paths.images / "root"}"
state = "{r / "state"}"
[grpc]
  address = "{paths.socket}"
[ttrpc]
  address = "{paths.socket}.ttrpc"
[debug]
  level = "warn"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "{r / "opt"}"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "{PAUSE_IMAGE}"
    stream_server_address = "127.0.0.1"
    stream_server_port = "{config.ports.containerd_stream}"
    disable_apparmor = true
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          Root = "{r / "runc"}"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "{CNI_BIN_DIR}"
      conf_dir = "{paths.cni_conf_dir}"
"""


def render_cni_config(config: LabConfig, paths: RuntimePaths) -> str:
    """Pods get an address on the lab's bridge (the node IP is its gateway); no masquerading: pods talk to
    the node and to each other only."""
    net = config.node_network
    return f"""{{
  "cniVersion": "1.0.0",
  "name": "lab",
  "plugins": [
    {{
      "type": "bridge",
      "bridge": "{net.bridge}",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {{
        "type": "host-local",
        "ranges": [[{{"subnet": "{net.subnet}", "gateway": "{net.node_ip}"}}]],
        "dataDir": "{paths.cni_ipam_dir}"
      }}
    }},
    {{"type": "loopback"}}
  ]
}}
"""


def ctr(paths: RuntimePaths, *args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        ["ctr", "--address", str(paths.socket), "--namespace", NAMESPACE, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise LabError(f"ctr {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def build_images() -> dict[str, Path]:
    """hack/build-image.sh for the project's image and the sandbox image: archive path by target (built
    only when the project's files changed since the cached archive)."""
    done = subprocess.run(
        [str(BUILD_IMAGE), "storage-operator", "ceph", "lab-pause"],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise LabError(f"hack/build-image.sh failed:\n{tail}")
    archives = {}
    for line in done.stdout.splitlines():
        target, _, path = line.partition(" ")
        if path:
            archives[target] = Path(path)
    return archives


def start_containerd(ctx: LabContext) -> str:
    paths = RuntimePaths.of(ctx.config)
    for d in (paths.root, paths.images, paths.cni_conf_dir, paths.cni_ipam_dir):
        d.mkdir(parents=True, exist_ok=True)
    paths.config.write_text(render_containerd_config(ctx.config, paths))
    (paths.cni_conf_dir / "10-lab.conflist").write_text(render_cni_config(ctx.config, paths))
    record = ctx.spawn(PROCESS_NAME, ["containerd", "--config", str(paths.config)], cwd=paths.root)

    def answering() -> bool | None:
        done = subprocess.run(
            ["ctr", "--address", str(paths.socket), "version"], capture_output=True, check=False, timeout=10
        )
        return True if done.returncode == 0 else None

    probe.wait_for("containerd", answering, timeout=30, interval=0.05, watch=(record,))
    # Containers a lab that crashed left in the kept root would confuse the kubelet: none may remain.
    leftovers = remove_containers(paths)
    extra = f"; removed {leftovers} containers an earlier lab left" if leftovers else ""
    return f"pid {record.pid}, socket {paths.socket.relative_to(ctx.config.root)}{extra}"


def import_images(ctx: LabContext) -> str:
    """Build (or find cached) and import the project's image and the sandbox image, under the names the
    lab's manifests and containerd's config use; an image already imported from the same archive (the
    runtime's root is kept between labs) is not imported again."""
    paths = RuntimePaths.of(ctx.config)
    t0 = time.monotonic()
    archives = build_images()
    built = time.monotonic() - t0
    try:
        record: dict[str, str] = json.loads(paths.imported_record.read_text())
    except (OSError, ValueError):
        record = {}
    present = set(ctr(paths, "images", "list", "--quiet").split())
    imported = []
    for target, name in (("storage-operator", IMAGE), ("ceph", CEPH_IMAGE), ("lab-pause", PAUSE_IMAGE)):
        archive = archives.get(target)
        if archive is None:
            raise LabError(f"hack/build-image.sh did not report an archive for {target}")
        if record.get(name) == archive.name and name in present:
            continue
        # Unpacked now, while nothing else runs, rather than by the first container start.
        out = ctr(paths, "images", "import", str(archive), timeout=600)
        ref = _imported_ref(out, archive)
        ctr(paths, "images", "tag", "--force", ref, name)
        for old in present:
            if old.startswith(ref.rpartition(":")[0] + ":") and old not in {ref, name}:
                ctr(paths, "images", "remove", old)  # an older build: its layers go with it
        record[name] = archive.name
        paths.imported_record.write_text(json.dumps(record, indent=2) + "\n")
        imported.append(name)
    took = time.monotonic() - t0 - built
    what = f"imported {', '.join(imported)} in {took:.1f}s" if imported else "already imported"
    return (
        f"{IMAGE} from {archives['storage-operator'].name}, {CEPH_IMAGE} from {archives['ceph'].name} "
        f"(build step {built:.1f}s), {PAUSE_IMAGE}: {what}"
    )


def _imported_ref(ctr_output: str, archive: Path) -> str:
    """The name ctr gave the image (`unpacking NAME (sha256:...)...` or `NAME saved`); the archive's
    file name says what to expect: <target>-<key>.oci.tar -> localhost/<target>:<key>."""
    stem = archive.name.removesuffix(".oci.tar")
    target, _, key = stem.rpartition("-")
    expected = f"localhost/{target}:{key}"
    if expected not in ctr_output and "localhost/" in ctr_output:
        raise LabError(f"ctr imported {archive.name} under another name than {expected}: {ctr_output.strip()}")
    return expected


def remove_containers(paths: RuntimePaths) -> int:
    """Kill and delete every task and container in the CRI namespace (what the kubelet left), so no
    container outlives the runtime. Returns how many containers there were."""
    if not paths.socket.exists():
        return 0
    try:
        tasks = ctr(paths, "tasks", "list", "--quiet", timeout=30).split()
        for task in tasks:
            _ctr_quiet(paths, "tasks", "kill", "--signal", "SIGKILL", task)
        containers = ctr(paths, "containers", "list", "--quiet", timeout=30).split()
        for container in containers:
            _ctr_quiet(paths, "tasks", "delete", "--force", container)
            _ctr_quiet(paths, "containers", "delete", container)
    except (LabError, subprocess.TimeoutExpired):
        return 0  # the runtime is gone or stuck: the cgroup sweep kills what is left
    return len(containers)


def _ctr_quiet(paths: RuntimePaths, *args: str) -> None:
    """A best-effort ctr call (the object may be gone already)."""
    subprocess.run(
        ["ctr", "--address", str(paths.socket), "--namespace", NAMESPACE, *args],
        capture_output=True,
        check=False,
        timeout=30,
    )


def remove_shim_run_dir() -> None:
    """/run/containerd (made by our containerd for its shims) goes, unless something else uses it now."""
    if not SHIM_RUN_DIR.is_dir():
        return
    for path in sorted(SHIM_RUN_DIR.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not path.is_symlink():
            try:
                path.rmdir()
            except OSError:
                return  # not empty: someone else's
        else:
            return
    SHIM_RUN_DIR.rmdir()
