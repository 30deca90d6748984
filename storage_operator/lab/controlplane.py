"""etcd, kube-apiserver, kube-controller-manager and kube-scheduler as lab processes.

``build_*_argv`` are pure (and unit-tested); ``start_*`` spawn, record and wait for readiness.
Everything binds 127.0.0.1; every connection is TLS with certificates from the lab's CA.
"""

from __future__ import annotations

import functools
from pathlib import Path

from storage_operator.lab import probe
from storage_operator.lab.binaries import Binaries
from storage_operator.lab.config import LabConfig
from storage_operator.lab.context import SERVICE_CIDR, SERVICE_IP, LabContext
from storage_operator.lab.kubeconfig import render_kubeconfig
from storage_operator.lab.pki import (
    ControlPlanePki,
    control_plane_leaves,
    kubelet_leaves,
    write_control_plane_pki,
)

SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
# The simulated nodes have no kubelet: the node-lifecycle controller would mark them unreachable and
# taint them 40 s after start. The lab keeps their Ready condition itself instead.
KCM_CONTROLLERS = "*,-node-lifecycle-controller"


def write_pki_and_kubeconfigs(ctx: LabContext) -> str:
    paths = ctx.config.paths
    node_ip = ctx.config.node_network.node_ip
    extra = tuple(leaf for node in ctx.config.real_nodes for leaf in kubelet_leaves(node, node_ip))
    pki = write_control_plane_pki(paths.pki, service_ip=SERVICE_IP, extra_leaves=extra)
    paths.kube.mkdir(parents=True, exist_ok=True)
    for component, leaf in (
        ("admin", "admin"),
        ("kube-controller-manager", "kube-controller-manager"),
        ("kube-scheduler", "kube-scheduler"),
    ):
        text = render_kubeconfig(
            server=ctx.apiserver_url, ca=pki.ca, cert=pki.cert(leaf), key=pki.key(leaf), user=component
        )
        target = paths.kubeconfig if component == "admin" else ctx.kubeconfig_for(component)
        target.write_text(text)
        target.chmod(0o600)
    count = len(control_plane_leaves(SERVICE_IP)) + len(extra)
    return f"CA, {count} certificates, service-account keys, kubeconfigs in {paths.pki.parent.name}/"


def build_etcd_argv(config: LabConfig, binaries: Binaries, pki: ControlPlanePki) -> list[str]:
    ports = config.ports
    client_url = f"https://127.0.0.1:{ports.etcd_client}"
    peer_url = f"http://127.0.0.1:{ports.etcd_peer}"
    return [
        str(binaries.etcd),
        "--name=lab",
        f"--data-dir={config.paths.etcd_data}",
        f"--listen-client-urls={client_url}",
        f"--advertise-client-urls={client_url}",
        f"--listen-peer-urls={peer_url}",
        f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=lab={peer_url}",
        "--initial-cluster-state=new",
        f"--cert-file={pki.cert('etcd-server')}",
        f"--key-file={pki.key('etcd-server')}",
        f"--trusted-ca-file={pki.ca}",
        "--client-cert-auth=true",
        # Lab data is thrown away with the lab: skipping fsync makes API writes ~10x cheaper on a VM disk.
        "--unsafe-no-fsync=true",
        "--log-level=warn",
    ]


def build_apiserver_argv(config: LabConfig, binaries: Binaries, pki: ControlPlanePki) -> list[str]:
    ports = config.ports
    return [
        str(binaries.kube_apiserver),
        f"--etcd-servers=https://127.0.0.1:{ports.etcd_client}",
        f"--etcd-cafile={pki.ca}",
        f"--etcd-certfile={pki.cert('apiserver-etcd-client')}",
        f"--etcd-keyfile={pki.key('apiserver-etcd-client')}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={ports.apiserver}",
        f"--tls-cert-file={pki.cert('apiserver')}",
        f"--tls-private-key-file={pki.key('apiserver')}",
        f"--client-ca-file={pki.ca}",
        f"--service-account-issuer={SA_ISSUER}",
        f"--api-audiences={SA_ISSUER}",
        f"--service-account-key-file={pki.sa_pub}",
        f"--service-account-signing-key-file={pki.sa_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        "--allow-privileged=true",
        # The `kubernetes` Service's endpoint would be 127.0.0.1, which Endpoints validation rejects.
        "--endpoint-reconciler-type=none",
        f"--cert-dir={config.paths.kube}",
        # How it reaches kubelets (logs, exec, port-forward on the node profile's real node): by the
        # node's InternalIP, verifying the kubelet's serving certificate, with its own client certificate.
        f"--kubelet-client-certificate={pki.cert('apiserver-kubelet-client')}",
        f"--kubelet-client-key={pki.key('apiserver-kubelet-client')}",
        f"--kubelet-certificate-authority={pki.ca}",
        "--kubelet-preferred-address-types=InternalIP",
        # A lab stops at once (the default delays let a load balancer drain; there is none).
        "--shutdown-delay-duration=0s",
        "--shutdown-watch-termination-grace-period=2s",
        "--profiling=false",
        "--v=1",
    ]


# The lab's Go servers collect garbage less often (the default is 100): on a 2-core machine the control
# plane's GC otherwise takes a visible share of the CPU a burst of API writes needs; memory is plentiful.
GO_ENV = {"GOGC": "400"}
KCM_QPS = 300
KCM_BURST = 600


def build_controller_manager_argv(
    config: LabConfig, binaries: Binaries, pki: ControlPlanePki, kubeconfig: Path
) -> list[str]:
    return [
        str(binaries.kube_controller_manager),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={config.ports.controller_manager}",
        f"--tls-cert-file={pki.cert('kube-controller-manager-serving')}",
        f"--tls-private-key-file={pki.key('kube-controller-manager-serving')}",
        f"--client-ca-file={pki.ca}",
        f"--service-account-private-key-file={pki.sa_key}",
        f"--root-ca-file={pki.ca}",
        f"--cluster-signing-cert-file={pki.ca}",
        f"--cluster-signing-key-file={pki.key('ca')}",
        "--use-service-account-credentials=true",
        f"--controllers={KCM_CONTROLLERS}",
        # The PV binder's writes go through this client: at the default 20 QPS it binds about 5 claims a
        # second whoever provisions them. A real cluster's control plane sets its own; the lab allows bursts.
        f"--kube-api-qps={KCM_QPS}",
        f"--kube-api-burst={KCM_BURST}",
        "--leader-elect=false",
        "--profiling=false",
        "--v=1",
    ]


def build_scheduler_argv(config: LabConfig, binaries: Binaries, pki: ControlPlanePki, kubeconfig: Path) -> list[str]:
    return [
        str(binaries.kube_scheduler),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={config.ports.scheduler}",
        f"--tls-cert-file={pki.cert('kube-scheduler-serving')}",
        f"--tls-private-key-file={pki.key('kube-scheduler-serving')}",
        f"--client-ca-file={pki.ca}",
        "--leader-elect=false",
        "--profiling=false",
        "--v=1",
    ]


def start_etcd(ctx: LabContext) -> str:
    ctx.config.paths.etcd_data.mkdir(parents=True, exist_ok=True)
    ctx.config.paths.etcd_data.chmod(0o700)
    record = ctx.spawn("etcd", build_etcd_argv(ctx.config, ctx.binaries, ctx.pki), env=GO_ENV)
    tls = probe.tls_context(ctx.pki.ca, ctx.pki.cert("apiserver-etcd-client"), ctx.pki.key("apiserver-etcd-client"))
    url = f"https://127.0.0.1:{ctx.config.ports.etcd_client}/health"
    probe.wait_for("etcd", lambda: probe.http_ok(url, tls), timeout=30, watch=(record,))
    return f"{ctx.versions['ETCD_VERSION']} on 127.0.0.1:{ctx.config.ports.etcd_client} (TLS, client certs)"


def start_apiserver(ctx: LabContext) -> str:
    record = ctx.spawn("kube-apiserver", build_apiserver_argv(ctx.config, ctx.binaries, ctx.pki), env=GO_ENV)
    tls = probe.tls_context(ctx.pki.ca, ctx.pki.cert("admin"), ctx.pki.key("admin"))
    # /readyz includes the RBAC bootstrap hooks: once it says ok, the default roles exist.
    url = f"{ctx.apiserver_url}/readyz"
    probe.wait_for("kube-apiserver", lambda: probe.http_ok(url, tls), timeout=60, watch=(record,))
    return f"{ctx.versions['KUBERNETES_VERSION']} on {ctx.apiserver_url} (authorization Node,RBAC)"


def start_controllers(ctx: LabContext) -> str:
    kcm = ctx.spawn(
        "kube-controller-manager",
        build_controller_manager_argv(ctx.config, ctx.binaries, ctx.pki, ctx.kubeconfig_for("kube-controller-manager")),
        env=GO_ENV,
    )
    sched = ctx.spawn(
        "kube-scheduler",
        build_scheduler_argv(ctx.config, ctx.binaries, ctx.pki, ctx.kubeconfig_for("kube-scheduler")),
    )
    tls = probe.tls_context(ctx.pki.ca)
    for record, port in ((kcm, ctx.config.ports.controller_manager), (sched, ctx.config.ports.scheduler)):
        url = f"https://127.0.0.1:{port}/healthz"
        probe.wait_for(record.name, functools.partial(probe.http_ok, url, tls), timeout=60, watch=(record,))
    return "kube-controller-manager (PV binder, GC, DaemonSet, Deployment, ...) and kube-scheduler healthy"
