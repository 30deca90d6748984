"""``<lab>/env`` and ``<lab>/bin``: point a shell at the lab (its kubectl, csi-sanity, kubeconfig, ceph.conf)."""

from __future__ import annotations

import shlex

from storage_operator.lab.context import LabContext


def render_env(*, bin_dir: str, kubeconfig: str, ceph_conf: str) -> str:
    return (
        "# source this file to use the lab from a shell (written by `make lab`)\n"
        f"export KUBECONFIG={shlex.quote(kubeconfig)}\n"
        f"export CEPH_CONF={shlex.quote(ceph_conf)}\n"
        f'export PATH={shlex.quote(bin_dir)}:"$PATH"\n'
    )


def write_shell_env(ctx: LabContext) -> str:
    paths = ctx.config.paths
    bin_dir = paths.root / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    kubectl = bin_dir / "kubectl"
    kubectl.unlink(missing_ok=True)
    # The lab's kubectl matches its API server; Debian's /usr/bin/kubectl (1.20) is far too old.
    kubectl.symlink_to(ctx.binaries.kubectl)
    # The pinned conformance suite, for running it against the lab's CSI plugins by hand.
    sanity = bin_dir / "csi-sanity"
    sanity.unlink(missing_ok=True)
    if ctx.binaries.csi_sanity.exists():
        sanity.symlink_to(ctx.binaries.csi_sanity)
    env_file = paths.root / "env"
    env_file.write_text(
        render_env(bin_dir=str(bin_dir), kubeconfig=str(paths.kubeconfig), ceph_conf=str(paths.ceph_conf))
    )
    return (
        f"source {env_file} for KUBECONFIG, CEPH_CONF, kubectl {ctx.versions['KUBERNETES_VERSION']} "
        f"and csi-sanity {ctx.versions['CSI_TEST_VERSION']}"
    )
