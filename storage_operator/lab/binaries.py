"""Where the lab's programs are, and one clear line when one is missing.

Go binaries come from the versioned cache hack/build-binaries.sh fills (versions pinned in
hack/versions.env); Ceph, NFS-Ganesha and util-linux come from Debian (hack/install-packages.sh).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from storage_operator.errors import LabError

REPO_ROOT = Path(__file__).resolve().parents[2]
VERSIONS_FILE = REPO_ROOT / "hack" / "versions.env"

# Debian programs the lab runs, and the package that brings each.
DEBIAN_TOOLS: dict[str, str] = {
    "losetup": "mount",
    "blkid": "util-linux",
    "wipefs": "util-linux",
    "ceph": "ceph-common",
    "ceph-authtool": "ceph-common",
    "monmaptool": "ceph-base",
    "ceph-mon": "ceph-mon",
    "ceph-mgr": "ceph-mgr",
    "ceph-osd": "ceph-osd",
    "ceph-mds": "ceph-mds",
    "ganesha.nfsd": "nfs-ganesha",
    # the real node (LAB_PROFILE=node)
    "containerd": "containerd",
    "ctr": "containerd",
    "runc": "runc",
    "ip": "iproute2",
    "buildah": "buildah",
    "debootstrap": "debootstrap",
}


# The real node's programs (LAB_PROFILE=node), and their packages.
NODE_TOOLS: tuple[str, ...] = ("containerd", "ctr", "runc", "ip", "buildah", "debootstrap")


def parse_versions(text: str) -> dict[str, str]:
    """KEY=value lines of versions.env (comments and blank lines ignored)."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise LabError(f"{VERSIONS_FILE}: cannot parse line {raw!r}")
        out[key.strip()] = value.strip()
    return out


def load_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    return parse_versions(path.read_text())


@dataclass(frozen=True)
class Binaries:
    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kubectl: Path
    kubelet: Path
    csi_sanity: Path

    @classmethod
    def in_cache(cls, cache: Path, versions: dict[str, str]) -> Binaries:
        kube = cache / f"kubernetes-{versions['KUBERNETES_VERSION']}"
        return cls(
            etcd=cache / f"etcd-{versions['ETCD_VERSION']}" / "etcd",
            kube_apiserver=kube / "kube-apiserver",
            kube_controller_manager=kube / "kube-controller-manager",
            kube_scheduler=kube / "kube-scheduler",
            kubectl=kube / "kubectl",
            kubelet=kube / "kubelet",
            csi_sanity=cache / f"csi-sanity-{versions['CSI_TEST_VERSION']}" / "csi-sanity",
        )

    def require_control_plane(self) -> None:
        for path in (
            self.etcd,
            self.kube_apiserver,
            self.kube_controller_manager,
            self.kube_scheduler,
            self.kubectl,
        ):
            if not path.is_file():
                raise LabError(
                    f"{path.name} is not built (expected {path}); run `make binaries` "
                    "(hack/build-binaries.sh builds the pinned versions into the cache)"
                )

    def require_kubelet(self) -> None:
        if not self.kubelet.is_file():
            raise LabError(
                f"kubelet is not built (expected {self.kubelet}); run `make binaries` "
                "(hack/build-binaries.sh builds it with the control plane)"
            )


# What every lab needs (the node profile needs NODE_TOOLS too).
LAB_TOOLS: tuple[str, ...] = tuple(name for name in DEBIAN_TOOLS if name not in NODE_TOOLS)


def runtime_series_problems(versions: dict[str, str], found: dict[str, str]) -> list[str]:
    """Which of the real node's runtime parts are not of the series hack/versions.env pins (``found``:
    part -> version as installed, "" when unknown)."""
    problems = []
    for part, key in (
        ("containerd", "CONTAINERD_SERIES"),
        ("runc", "RUNC_SERIES"),
        ("CNI plugins", "CNI_PLUGINS_SERIES"),
    ):
        want = versions.get(key)
        have = found.get(part, "")
        if want and not (have == want or have.startswith(want + ".")):
            problems.append(f"{part} {have or 'of unknown version'} (the lab is verified with {want}.x)")
    return problems


def installed_runtime_versions() -> dict[str, str]:
    """containerd's, runc's and the CNI plugins' versions as installed."""

    def first_line(*argv: str) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10)
        except OSError:
            return ""
        return (done.stdout.splitlines() or [""])[0]

    containerd = first_line("containerd", "--version").split()
    runc = first_line("runc", "--version").split()
    cni = first_line("dpkg-query", "-W", "-f=${Version}", "containernetworking-plugins")
    return {
        "containerd": containerd[2] if len(containerd) > 2 else "",
        "runc": runc[2] if len(runc) > 2 else "",
        "CNI plugins": cni,
    }


def require_runtime_series(versions: dict[str, str]) -> None:
    problems = runtime_series_problems(versions, installed_runtime_versions())
    if problems:
        raise LabError(
            "the real node's runtime is not what the lab is verified with: "
            + "; ".join(problems)
            + " (hack/versions.env; LAB_PROFILE=process runs the lab without a real node)"
        )


def require_debian_tools(names: tuple[str, ...] = LAB_TOOLS) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        packages = sorted({DEBIAN_TOOLS.get(n, n) for n in missing})
        raise LabError(
            f"{', '.join(missing)} not found on PATH; run `make packages` "
            f"(hack/install-packages.sh installs {' '.join(packages)})"
        )


def tool(name: str) -> str:
    """Absolute path of a Debian tool (checked by require_debian_tools first)."""
    found = shutil.which(name)
    if found is None:
        raise LabError(f"{name} not found on PATH; run `make packages`")
    return found
