"""Pure renderers of the lab: kubeconfig, ceph.conf, ganesha.conf, shell env, daemon command lines."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from storage_operator.lab.binaries import Binaries
from storage_operator.lab.ceph import CephLayout, render_ceph_conf
from storage_operator.lab.config import LabConfig
from storage_operator.lab.controlplane import (
    build_apiserver_argv,
    build_controller_manager_argv,
    build_etcd_argv,
    build_scheduler_argv,
)
from storage_operator.lab.kubeconfig import render_kubeconfig
from storage_operator.lab.nfs import render_ganesha_conf
from storage_operator.lab.pki import ControlPlanePki
from storage_operator.lab.shell import render_env

CFG = LabConfig(root=Path("/srv/lab"), port_base=26400, cache_dir=Path("/cache"))
BIN = Binaries.in_cache(
    Path("/cache"), {"KUBERNETES_VERSION": "v1.0.0", "ETCD_VERSION": "v3.0.0", "CSI_TEST_VERSION": "v5.0.0"}
)
PKI = ControlPlanePki(CFG.paths.pki)


def _argvs() -> dict[str, list[str]]:
    kc = Path("/srv/lab/kube/x.kubeconfig")
    return {
        "etcd": build_etcd_argv(CFG, BIN, PKI),
        "apiserver": build_apiserver_argv(CFG, BIN, PKI),
        "kcm": build_controller_manager_argv(CFG, BIN, PKI, kc),
        "scheduler": build_scheduler_argv(CFG, BIN, PKI, kc),
    }


def test_kubeconfig_points_at_certificate_files() -> None:
    doc = yaml.safe_load(
        render_kubeconfig(
            server="https://127.0.0.1:26403",
            ca=Path("/p/ca.crt"),
            cert=Path("/p/a.crt"),
            key=Path("/p/a.key"),
            user="admin",
        )
    )
    assert doc["current-context"] == "admin@lab"
    assert doc["clusters"][0]["cluster"] == {
        "server": "https://127.0.0.1:26403",
        "certificate-authority": "/p/ca.crt",
    }
    assert doc["users"][0]["user"] == {"client-certificate": "/p/a.crt", "client-key": "/p/a.key"}


def test_daemons_bind_loopback_only() -> None:
    for name, argv in _argvs().items():
        joined = " ".join(argv)
        assert "0.0.0.0" not in joined, name  # noqa: S104 (asserting its absence)
        for url in re.findall(r"https?://[^ ,]+", joined):
            if "kubernetes.default.svc" in url:  # the service-account issuer is a name, not a listener
                continue
            assert url.startswith(("https://127.0.0.1:", "http://127.0.0.1:")), (name, url)
    assert "--bind-address=127.0.0.1" in _argvs()["apiserver"]
    assert "--bind-address=127.0.0.1" in _argvs()["kcm"]
    assert "--bind-address=127.0.0.1" in _argvs()["scheduler"]


def test_apiserver_uses_rbac_and_tls_to_etcd() -> None:
    argv = _argvs()["apiserver"]
    assert "--authorization-mode=Node,RBAC" in argv
    assert f"--etcd-servers=https://127.0.0.1:{CFG.ports.etcd_client}" in argv
    assert f"--secure-port={CFG.ports.apiserver}" in argv
    assert any(a.startswith("--service-account-signing-key-file=") for a in argv)
    etcd = _argvs()["etcd"]
    assert "--client-cert-auth=true" in etcd


def test_apiserver_reaches_node_kubelets_by_internal_ip_with_its_own_client_certificate() -> None:
    argv = _argvs()["apiserver"]
    assert f"--kubelet-client-certificate={PKI.cert('apiserver-kubelet-client')}" in argv
    assert f"--kubelet-client-key={PKI.key('apiserver-kubelet-client')}" in argv
    assert f"--kubelet-certificate-authority={PKI.ca}" in argv
    assert "--kubelet-preferred-address-types=InternalIP" in argv


def test_controller_manager_keeps_the_pv_binder_and_gc() -> None:
    argv = _argvs()["kcm"]
    controllers = next(a for a in argv if a.startswith("--controllers=")).split("=", 1)[1].split(",")
    assert controllers[0] == "*"
    disabled = [c for c in controllers if c.startswith("-")]
    assert disabled == ["-node-lifecycle-controller"]


def test_ceph_conf_is_loopback_with_cephx() -> None:
    layout = CephLayout(CFG.paths.ceph)
    conf = render_ceph_conf(CFG, layout, "00000000-0000-0000-0000-000000000000")
    assert f"mon host = [v2:127.0.0.1:{CFG.ports.mon_v2},v1:127.0.0.1:{CFG.ports.mon_v1}]" in conf
    assert f"ms bind port min = {CFG.ports.ceph_msgr_min}" in conf
    assert f"ms bind port max = {CFG.ports.ceph_msgr_max}" in conf
    for line in (
        "auth cluster required = cephx",
        "auth service required = cephx",
        "auth client required = cephx",
    ):
        assert line in conf
    # every path the daemons write lies under the lab directory
    for path in re.findall(r"= (/\S+)", conf):
        assert path.startswith(str(CFG.root)), path


def test_ganesha_conf_binds_loopback_on_the_lab_port() -> None:
    conf = render_ganesha_conf(CFG)
    assert "Bind_addr = 127.0.0.1;" in conf
    assert f"NFS_Port = {CFG.ports.nfs};" in conf
    assert f'Path = "{CFG.paths.nfs_export}";' in conf
    assert "Protocols = 4;" in conf


def test_env_file_quotes_paths() -> None:
    env = render_env(bin_dir="/a b/bin", kubeconfig="/a b/kubeconfig", ceph_conf="/c/ceph.conf")
    assert "export KUBECONFIG='/a b/kubeconfig'" in env
    assert "export PATH='/a b/bin':\"$PATH\"" in env
