"""The lab's node profile (LAB_PROFILE=node), pure parts: its config and ports, the kubelet's and containerd's
settings, the per-instance overlay of manifests/lab, the saved host settings and the step sequence."""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

from storage_operator.errors import LabError
from storage_operator.lab import hostsettings
from storage_operator.lab.binaries import REPO_ROOT, Binaries, load_versions, runtime_series_problems
from storage_operator.lab.ceph import mon_host
from storage_operator.lab.cluster import LAB_NODE_LABEL
from storage_operator.lab.config import (
    CSI_DRIVERS,
    DEFAULT_CLI_PROFILE,
    MAX_NODES,
    PORT_BLOCK,
    LabConfig,
    LabPorts,
    NodeNetwork,
)
from storage_operator.lab.containerd import (
    PAUSE_IMAGE,
    RuntimePaths,
    _imported_ref,
    render_cni_config,
    render_containerd_config,
)
from storage_operator.lab.kubelet import (
    REAL_NODE_LABEL,
    build_kubelet_argv,
    cgroup_root,
    kubelet_dir,
    render_kubelet_config,
)
from storage_operator.lab.lab import LAB_ENTRIES, await_components, steps_for
from storage_operator.lab.operator import LAB_OPERATOR_ENV
from storage_operator.lab.pki import ControlPlanePki, kubelet_leaves, write_control_plane_pki
from storage_operator.lab.workloads import render_instance_overlay

PORT_BASE = 27600
VERSIONS = {"KUBERNETES_VERSION": "v1.37.2", "ETCD_VERSION": "v3.7.3", "CSI_TEST_VERSION": "v5.6.0"}
NODE_ONLY_STEPS = ["host", "containerd", "images", "kubelet", "workloads"]
BASE_MANIFESTS = (
    REPO_ROOT / "manifests" / "operator" / "deployment.yaml",
    REPO_ROOT / "manifests" / "agent" / "daemonset.yaml",
    REPO_ROOT / "manifests" / "csi" / "node.yaml",
    REPO_ROOT / "manifests" / "csi" / "config.yaml",
)

Doc = dict[str, Any]


@pytest.fixture
def config(tmp_path: Path) -> LabConfig:
    return LabConfig(root=tmp_path / "lab", port_base=PORT_BASE, profile="node", cache_dir=tmp_path / "cache")


def _under(path: str | Path, root: Path) -> bool:
    return Path(path).is_relative_to(root)


# ---------------------------------------------------------------- config


def test_constructed_configs_get_the_process_profile_and_the_cli_the_node_profile() -> None:
    assert LabConfig(root=Path("/srv/lab")).profile == "process"
    assert DEFAULT_CLI_PROFILE == "node"
    assert LabConfig.from_env({}, default_root=Path("/srv/lab")).profile == "node"
    assert LabConfig.from_env({"LAB_PROFILE": ""}, default_root=Path("/srv/lab")).profile == "node"


@pytest.mark.parametrize("profile", ["process", "node"])
def test_from_env_reads_lab_profile(profile: str) -> None:
    assert LabConfig.from_env({"LAB_PROFILE": profile}, default_root=Path("/srv/lab")).profile == profile


@pytest.mark.parametrize("profile", ["kubelet", "Node", "process,node"])
def test_an_unknown_profile_is_one_clear_error(profile: str) -> None:
    with pytest.raises(LabError, match="LAB_PROFILE"):
        LabConfig.from_env({"LAB_PROFILE": profile}, default_root=Path("/srv/lab"))


def test_the_node_profile_makes_the_first_node_real(config: LabConfig) -> None:
    assert config.real_nodes == ("node-a",)
    assert config.simulated_nodes == ("node-b", "node-c")
    one = LabConfig(root=config.root, profile="node", nodes=("solo",))
    assert one.real_nodes == ("solo",)
    assert one.simulated_nodes == ()


def test_the_process_profile_simulates_every_node(tmp_path: Path) -> None:
    config = LabConfig(root=tmp_path, profile="process")
    assert config.real_nodes == ()
    assert config.simulated_nodes == config.nodes


def test_node_network_is_derived_from_the_port_base(config: LabConfig) -> None:
    net = config.node_network
    assert net == NodeNetwork.for_port_base(PORT_BASE)
    assert net.bridge == "solab27600"
    assert net.subnet == "10.244.69.0/24"
    assert net.node_ip == "10.244.69.1"
    assert net.prefix == 24


@given(
    st.integers(min_value=1024, max_value=65535 - PORT_BLOCK),
    st.integers(min_value=1024, max_value=65535 - PORT_BLOCK),
)
def test_labs_whose_port_blocks_do_not_overlap_never_share_a_bridge_or_subnet(a: int, b: int) -> None:
    first, second = NodeNetwork.for_port_base(a), NodeNetwork.for_port_base(b)
    assert len(first.bridge) <= 15  # IFNAMSIZ - 1
    if abs(a - b) >= PORT_BLOCK:
        assert first.bridge != second.bridge
        assert first.subnet != second.subnet
        assert first.node_ip != second.node_ip


def test_node_ports_sit_at_their_offsets() -> None:
    ports = LabPorts(PORT_BASE)
    assert ports.kubelet == PORT_BASE + 6
    assert ports.kubelet_healthz == PORT_BASE + 7
    assert ports.containerd_stream == PORT_BASE + 8
    assert ports.csi_node_metrics("cephfs") == PORT_BASE + 92
    assert ports.csi_node_metrics("rbd") == PORT_BASE + 93


def test_node_profile_listeners_add_the_real_node(config: LabConfig) -> None:
    listeners = config.listeners()
    p = config.ports
    assert listeners["kubelet"] == p.kubelet
    assert listeners["kubelet healthz"] == p.kubelet_healthz
    assert listeners["containerd streaming"] == p.containerd_stream
    assert listeners["csi-cephfs node plugin"] == p.csi_node_metrics("cephfs")
    assert listeners["csi-rbd node plugin"] == p.csi_node_metrics("rbd")
    assert listeners["storage-agent (node-a)"] == p.agent_http(0)
    assert p.listeners().items() <= listeners.items()


def test_process_profile_listeners_have_no_node(tmp_path: Path) -> None:
    listeners = LabConfig(root=tmp_path, port_base=PORT_BASE).listeners()
    for name in ("kubelet", "kubelet healthz", "containerd streaming", "csi-cephfs node plugin", "csi-rbd node plugin"):
        assert name not in listeners


def test_node_profile_ports_are_distinct_and_inside_the_block_with_the_most_nodes(tmp_path: Path) -> None:
    nodes = tuple(f"n{i}" for i in range(MAX_NODES))
    config = LabConfig(root=tmp_path, port_base=PORT_BASE, nodes=nodes, profile="node")
    everything = [*config.listeners().values(), *config.ports.ceph_msgr_range()]
    assert len(everything) == len(set(everything))
    assert all(PORT_BASE <= port < PORT_BASE + PORT_BLOCK for port in everything)


def test_node_paths_live_in_the_lab_and_teardown_knows_them(config: LabConfig) -> None:
    assert config.paths.host_record == config.root / "host.json"
    assert config.paths.node == config.root / "node"
    assert config.paths.host_record.name in LAB_ENTRIES
    assert config.paths.node.name in LAB_ENTRIES


# ---------------------------------------------------------------- kubelet


def _strings(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, key)
    elif isinstance(value, str):
        yield key, value


def test_kubelet_config_is_the_verified_cgroupfs_setup(config: LabConfig) -> None:
    pki = ControlPlanePki(config.paths.pki)
    doc = json.loads(render_kubelet_config(config, pki, "node-a"))
    assert doc["kind"] == "KubeletConfiguration"
    assert doc["cgroupDriver"] == "cgroupfs"
    assert doc["failCgroupV1"] is False
    assert doc["cgroupRoot"] == "/storage-lab-27600"
    assert doc["makeIPTablesUtilChains"] is False
    assert doc["readOnlyPort"] == 0


def test_kubelet_config_listens_on_the_node_ip_and_the_lab_ports(config: LabConfig) -> None:
    doc = json.loads(render_kubelet_config(config, ControlPlanePki(config.paths.pki), "node-a"))
    assert doc["address"] == config.node_network.node_ip
    assert doc["port"] == config.ports.kubelet
    assert doc["healthzBindAddress"] == "127.0.0.1"
    assert doc["healthzPort"] == config.ports.kubelet_healthz
    assert doc["containerRuntimeEndpoint"] == f"unix://{RuntimePaths.of(config).socket}"


def test_kubelet_config_authenticates_with_the_lab_pki(config: LabConfig) -> None:
    pki = ControlPlanePki(config.paths.pki)
    doc = json.loads(render_kubelet_config(config, pki, "node-a"))
    assert doc["tlsCertFile"] == str(pki.cert("kubelet-serving.node-a"))
    assert doc["tlsPrivateKeyFile"] == str(pki.key("kubelet-serving.node-a"))
    assert doc["authentication"] == {
        "anonymous": {"enabled": False},
        "webhook": {"enabled": True},
        "x509": {"clientCAFile": str(pki.ca)},
    }
    assert doc["authorization"] == {"mode": "Webhook"}


def test_every_kubelet_config_path_is_under_the_lab(config: LabConfig) -> None:
    doc = json.loads(render_kubelet_config(config, ControlPlanePki(config.paths.pki), "node-a"))
    paths = {
        key: value.removeprefix("unix://")
        for key, value in _strings(doc)
        if key != "cgroupRoot" and value.startswith(("/", "unix://"))
    }
    assert {"containerRuntimeEndpoint", "tlsCertFile", "clientCAFile", "resolvConf", "podLogsDir"} <= paths.keys()
    for key, path in paths.items():
        assert _under(path, config.root), (key, path)


def test_kubelet_tls_files_are_what_the_pki_writes_for_the_node(config: LabConfig) -> None:
    node, ip = "node-a", config.node_network.node_ip
    pki = write_control_plane_pki(config.paths.pki, service_ip="10.96.0.1", extra_leaves=kubelet_leaves(node, ip))
    doc = json.loads(render_kubelet_config(config, pki, node))
    assert Path(doc["tlsPrivateKeyFile"]).is_file()
    ca = x509.load_pem_x509_certificate(Path(doc["authentication"]["x509"]["clientCAFile"]).read_bytes())
    serving = x509.load_pem_x509_certificate(Path(doc["tlsCertFile"]).read_bytes())
    serving.verify_directly_issued_by(ca)
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ip in [str(a) for a in sans.get_values_for_type(x509.IPAddress)]
    assert node in sans.get_values_for_type(x509.DNSName)


def _flags(argv: list[str]) -> dict[str, str]:
    out = {}
    for arg in argv[1:]:
        name, sep, value = arg.partition("=")
        assert sep, arg
        out[name] = value
    return out


def test_kubelet_argv_keeps_the_node_inside_the_lab(tmp_path: Path, config: LabConfig) -> None:
    binaries = Binaries.in_cache(tmp_path / "cache", VERSIONS)
    argv = build_kubelet_argv(config, binaries, "node-a")
    assert argv[0] == str(binaries.kubelet)
    flags = _flags(argv)
    assert flags["--root-dir"] == str(kubelet_dir(config))
    assert flags["--node-ip"] == config.node_network.node_ip
    assert flags["--hostname-override"] == "node-a"
    assert flags["--config"] == str(config.paths.node / "kubelet-config.json")
    for flag in ("--root-dir", "--cert-dir", "--config", "--kubeconfig"):
        assert _under(flags[flag], config.root), flag
    labels = dict(label.split("=") for label in flags["--node-labels"].split(","))
    assert labels == {LAB_NODE_LABEL: "true", REAL_NODE_LABEL: "true"}
    assert REAL_NODE_LABEL == "storage.baremetal.io/lab-kubelet"


def test_kubelet_dir_and_cgroup_root(config: LabConfig) -> None:
    assert kubelet_dir(config) == config.root / "node" / "kubelet"
    assert cgroup_root(config) == "storage-lab-27600"


# ---------------------------------------------------------------- containerd


def test_runtime_paths_keep_state_in_the_lab_and_images_in_the_cache(config: LabConfig) -> None:
    paths = RuntimePaths.of(config)
    assert paths.root == config.paths.node / "containerd"
    assert paths.images.parent == config.cache_dir / "node-runtime"
    assert re.fullmatch(r"[0-9a-f]{12}", paths.images.name)
    for path in (paths.socket, paths.config, paths.cni_conf_dir, paths.cni_ipam_dir):
        assert _under(path, config.root), path


def test_runtime_image_root_is_per_lab_directory(tmp_path: Path, config: LabConfig) -> None:
    same = LabConfig(root=tmp_path / "lab", port_base=26000, profile="node", cache_dir=config.cache_dir)
    other = LabConfig(root=tmp_path / "other-lab", port_base=PORT_BASE, profile="node", cache_dir=config.cache_dir)
    assert RuntimePaths.of(same).images == RuntimePaths.of(config).images
    assert RuntimePaths.of(other).images != RuntimePaths.of(config).images


def test_containerd_config_puts_everything_at_the_lab_paths(config: LabConfig) -> None:
    paths = RuntimePaths.of(config)
    doc = tomllib.loads(render_containerd_config(config, paths))
    assert doc["version"] == 2
    assert doc["root"] == str(paths.images / "root")
    assert doc["grpc"]["address"] == str(paths.socket)
    for path in (doc["state"], doc["ttrpc"]["address"], doc["plugins"]["io.containerd.internal.v1.opt"]["path"]):
        assert _under(path, config.root), path
    cri = doc["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == PAUSE_IMAGE
    assert cri["stream_server_address"] == "127.0.0.1"
    assert cri["stream_server_port"] == str(config.ports.containerd_stream)
    assert cri["cni"]["conf_dir"] == str(paths.cni_conf_dir)
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["options"]["SystemdCgroup"] is False
    assert _under(runc["options"]["Root"], config.root)


def test_cni_config_is_the_lab_bridge(config: LabConfig) -> None:
    paths = RuntimePaths.of(config)
    doc = json.loads(render_cni_config(config, paths))
    bridge, loopback = doc["plugins"]
    net = config.node_network
    assert bridge["type"] == "bridge"
    assert bridge["bridge"] == net.bridge
    assert bridge["ipMasq"] is False
    assert bridge["ipam"]["ranges"] == [[{"subnet": net.subnet, "gateway": net.node_ip}]]
    assert bridge["ipam"]["dataDir"] == str(paths.cni_ipam_dir)
    assert _under(bridge["ipam"]["dataDir"], config.root)
    assert loopback == {"type": "loopback"}


@pytest.mark.parametrize(
    ("archive", "output", "expected"),
    [
        (
            "storage-operator-0123456789abcdef.oci.tar",
            "unpacking localhost/storage-operator:0123456789abcdef (sha256:aa)...done\n",
            "localhost/storage-operator:0123456789abcdef",
        ),
        (
            "lab-pause-fedcba9876543210.oci.tar",
            "localhost/lab-pause:fedcba9876543210 saved\n",
            "localhost/lab-pause:fedcba9876543210",
        ),
        ("storage-operator-abc.oci.tar", "", "localhost/storage-operator:abc"),
    ],
)
def test_imported_ref_is_named_by_the_archive(tmp_path: Path, archive: str, output: str, expected: str) -> None:
    assert _imported_ref(output, tmp_path / archive) == expected


def test_imported_ref_refuses_another_local_name(tmp_path: Path) -> None:
    output = "unpacking localhost/storage-operator:latest (sha256:aa)...done\n"
    with pytest.raises(LabError, match="localhost/storage-operator:abc"):
        _imported_ref(output, tmp_path / "storage-operator-abc.oci.tar")


# ---------------------------------------------------------------- workloads (the per-instance overlay)


def _base_docs() -> list[Doc]:
    """What `kubectl kustomize manifests/lab` renders, as far as the overlay looks at it."""
    return [d for path in BASE_MANIFESTS for d in yaml.safe_load_all(path.read_text()) if d]


def _tokens(pointer: str) -> list[str]:
    assert pointer.startswith("/"), pointer
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(token: str, size: int) -> int:
    """An array index of a JSON pointer: digits, below ``size``."""
    if not token.isdigit() or int(token) >= size:
        raise IndexError(f"no index {token} in an array of {size}")
    return int(token)


def _child(node: Any, token: str) -> Any:
    if isinstance(node, list):
        return node[_index(token, len(node))]
    return node[token]


def _apply_op(doc: Doc, op: dict[str, Any]) -> None:
    """One RFC 6902 add or replace (what the overlay uses); a missing target raises."""
    *parents, last = _tokens(op["path"])
    node: Any = doc
    for token in parents:
        node = _child(node, token)
    value = copy.deepcopy(op["value"])
    if op["op"] == "add" and isinstance(node, list):
        if last == "-":
            node.append(value)
        else:
            node.insert(_index(last, len(node) + 1), value)
    elif op["op"] == "add":
        node[last] = value
    elif op["op"] == "replace" and isinstance(node, list):
        node[_index(last, len(node))] = value
    elif op["op"] == "replace":
        if last not in node:
            raise KeyError(f"replace of a missing member: {op['path']}")
        node[last] = value
    else:
        raise AssertionError(f"unexpected operation {op}")


def _kustomize(overlay: Doc, base: list[Doc]) -> dict[tuple[str, str], Doc]:
    """The overlay's patches applied to a copy of ``base``, by (kind, name)."""
    docs = {(d["kind"], d["metadata"]["name"]): d for d in copy.deepcopy(base)}
    for patch in overlay["patches"]:
        target = (patch["target"]["kind"], patch["target"]["name"])
        assert target in docs, target
        for op in yaml.safe_load(patch["patch"]):
            _apply_op(docs[target], op)
    return docs


def _container(doc: Doc, name: str) -> Doc:
    containers: list[Doc] = doc["spec"]["template"]["spec"]["containers"]
    (found,) = [c for c in containers if c["name"] == name]
    return found


def _env(container: Doc) -> dict[str, Doc]:
    names = [e["name"] for e in container["env"]]
    assert len(names) == len(set(names)), names
    return {e["name"]: e for e in container["env"]}


def _port(container: Doc, name: str) -> int:
    (port,) = [p["containerPort"] for p in container["ports"] if p["name"] == name]
    return int(port)


def _by_name(items: list[Doc], name: str) -> Doc:
    (found,) = [i for i in items if i["name"] == name]
    return found


def _rendered(config: LabConfig, base: list[Doc] | None = None) -> dict[tuple[str, str], Doc]:
    docs = _base_docs() if base is None else base
    before = copy.deepcopy(docs)
    overlay = render_instance_overlay(config, docs, "../../manifests/lab")
    assert docs == before  # the base documents are only read
    return _kustomize(overlay, docs)


def test_overlay_is_a_kustomization_on_top_of_the_given_base(config: LabConfig) -> None:
    overlay = render_instance_overlay(config, _base_docs(), "../../manifests/lab")
    assert overlay["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert overlay["kind"] == "Kustomization"
    assert overlay["resources"] == ["../../manifests/lab"]
    targets = [(p["target"]["kind"], p["target"]["name"]) for p in overlay["patches"]]
    assert sorted(targets) == sorted(
        [
            ("Deployment", "storage-operator"),
            ("DaemonSet", "storage-agent"),
            ("DaemonSet", "csi-cephfs-node"),
            ("DaemonSet", "csi-rbd-node"),
            ("ConfigMap", "storage-csi-config"),
        ]
    )
    json.dumps(overlay)  # plain data: written out as YAML for kustomize


def test_overlay_points_the_operator_at_the_lab(config: LabConfig) -> None:
    operator = _container(_rendered(config)[("Deployment", "storage-operator")], "operator")
    env = _env(operator)
    assert env["KUBERNETES_SERVICE_HOST"]["value"] == "127.0.0.1"
    assert env["KUBERNETES_SERVICE_PORT"]["value"] == str(config.ports.apiserver)
    assert env["STORAGE_OPERATOR_HTTP_PORT"]["value"] == str(config.ports.operator_http)
    assert env["STORAGE_OPERATOR_HTTP_HOST"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    for name, value in LAB_OPERATOR_ENV.items():
        assert env[name]["value"] == value
    assert "POD_NAME" in env  # the manifest's own variables stay
    assert _port(operator, "http") == config.ports.operator_http


def test_overlay_points_the_real_nodes_agent_at_the_lab(config: LabConfig) -> None:
    agent = _container(_rendered(config)[("DaemonSet", "storage-agent")], "agent")
    env = _env(agent)
    assert env["KUBERNETES_SERVICE_HOST"]["value"] == "127.0.0.1"
    assert env["KUBERNETES_SERVICE_PORT"]["value"] == str(config.ports.apiserver)
    assert env["STORAGE_AGENT_LOOP_BACKING_DIR"]["value"] == str(config.root / "disks" / "node-a")
    assert env["STORAGE_AGENT_HTTP_PORT"]["value"] == str(config.ports.agent_http(0))
    assert "NODE_NAME" in env
    assert _port(agent, "http") == config.ports.agent_http(0)


@pytest.mark.parametrize("driver", CSI_DRIVERS)
def test_overlay_moves_the_csi_node_plugin_under_the_lab_kubelet(config: LabConfig, driver: str) -> None:
    ds = _rendered(config)[("DaemonSet", f"csi-{driver}-node")]
    pod = ds["spec"]["template"]["spec"]
    plugin = _container(ds, "plugin")
    kubelet_root = config.root / "node" / "kubelet"
    assert kubelet_dir(config) == kubelet_root

    def host_path(volume: str) -> str:
        return str(_by_name(pod["volumes"], volume)["hostPath"]["path"])

    def mount_path(volume: str) -> str:
        return str(_by_name(plugin["volumeMounts"], volume)["mountPath"])

    assert host_path("kubelet-dir") == str(kubelet_root)
    assert mount_path("kubelet-dir") == str(kubelet_root)
    assert host_path("registration-dir") == str(kubelet_root / "plugins_registry")
    assert _under(host_path("state-dir"), config.root / "node")
    registration = next(a for a in plugin["args"] if a.startswith("--kubelet-registration-path="))
    socket = Path(registration.partition("=")[2])
    assert socket == kubelet_root / "plugins" / f"{driver}.csi.storage.baremetal.io" / "csi.sock"
    # The plugin listens on /csi/csi.sock: the socket-dir volume is where the kubelet is told to look.
    assert f"--endpoint=unix://{mount_path('socket-dir')}/csi.sock" in plugin["args"]
    assert host_path("socket-dir") == str(socket.parent)
    metrics = f"{config.node_network.node_ip}:{config.ports.csi_node_metrics(driver)}"
    assert _env(plugin)["CSI_METRICS_ADDRESS"]["value"] == metrics
    assert _port(plugin, "metrics") == config.ports.csi_node_metrics(driver)
    assert host_path("dev") == "/dev"  # what the lab has no reason to move stays


def test_overlay_points_the_csi_config_at_the_lab_monitors(config: LabConfig) -> None:
    cm = _rendered(config)[("ConfigMap", "storage-csi-config")]
    assert cm["data"]["monitors"] == mon_host(config)


def test_overlay_adds_env_to_a_container_without_any(config: LabConfig) -> None:
    base = _base_docs()
    operator = _container(next(d for d in base if d["kind"] == "Deployment"), "operator")
    del operator["env"]
    env = _env(_container(_rendered(config, base)[("Deployment", "storage-operator")], "operator"))
    assert env["KUBERNETES_SERVICE_PORT"]["value"] == str(config.ports.apiserver)
    assert "POD_NAME" not in env


def _drop_config_map(docs: list[Doc]) -> None:
    docs[:] = [d for d in docs if d["kind"] != "ConfigMap"]


def _rename_operator_container(docs: list[Doc]) -> None:
    _container(next(d for d in docs if d["metadata"]["name"] == "storage-operator"), "operator")["name"] = "manager"


def _drop_agent_port(docs: list[Doc]) -> None:
    del _container(next(d for d in docs if d["metadata"]["name"] == "storage-agent"), "agent")["ports"]


def _drop_registration_arg(docs: list[Doc]) -> None:
    plugin = _container(next(d for d in docs if d["metadata"]["name"] == "csi-rbd-node"), "plugin")
    plugin["args"] = [a for a in plugin["args"] if not a.startswith("--kubelet-registration-path=")]


def _drop_state_volume(docs: list[Doc]) -> None:
    pod = next(d for d in docs if d["metadata"]["name"] == "csi-cephfs-node")["spec"]["template"]["spec"]
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] != "state-dir"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_drop_config_map, "ConfigMap storage-csi-config"),
        (_rename_operator_container, "Deployment storage-operator .*'operator'"),
        (_drop_agent_port, "DaemonSet storage-agent .*'http'"),
        (_drop_registration_arg, "csi-rbd-node container plugin has no --kubelet-registration-path="),
        (_drop_state_volume, "DaemonSet csi-cephfs-node .*'state-dir'"),
    ],
)
def test_a_base_without_what_the_overlay_needs_is_named(
    config: LabConfig, mutate: Callable[[list[Doc]], None], message: str
) -> None:
    base = _base_docs()
    mutate(base)
    with pytest.raises(LabError, match=message):
        render_instance_overlay(config, base, "../../manifests/lab")


# ---------------------------------------------------------------- host settings


def test_the_host_record_round_trips(config: LabConfig) -> None:
    config.root.mkdir(parents=True)
    values = {"vm.overcommit_memory": "0", "kernel.panic": "0", "kernel.panic_on_oops": "0", "net.ipv4.ip_forward": "1"}
    for created in (True, False):
        record = hostsettings.HostRecord(values, created_shim_run_dir=created)
        hostsettings.save_host_record(config.paths.host_record, record)
        assert hostsettings.load_host_record(config.paths.host_record) == record


def test_the_host_record_keeps_only_the_nodes_settings(tmp_path: Path) -> None:
    path = tmp_path / "host.json"
    path.write_text(json.dumps({"sysctls": {"kernel.panic": 10, "kernel.hostname": "evil", "vm.swappiness": "60"}}))
    assert hostsettings.load_host_record(path) == hostsettings.HostRecord({"kernel.panic": "10"})


@pytest.mark.parametrize(
    "text", ["{not json", "[1, 2]", '"kernel.panic"', "", '{"kernel.panic": "1"}', '{"sysctls": [1]}']
)
def test_an_unreadable_host_record_is_none(tmp_path: Path, text: str) -> None:
    path = tmp_path / "host.json"
    path.write_text(text)
    assert hostsettings.load_host_record(path) is None


def test_no_host_record_is_none(tmp_path: Path) -> None:
    assert hostsettings.load_host_record(tmp_path / "missing.json") is None


def test_sysctl_path() -> None:
    assert hostsettings.sysctl_path("net.ipv4.ip_forward") == Path("/proc/sys/net/ipv4/ip_forward")
    assert hostsettings.sysctl_path("vm.overcommit_memory") == Path("/proc/sys/vm/overcommit_memory")


# ---------------------------------------------------------------- steps


def test_node_profile_brings_up_the_node_between_components_and_ceph(config: LabConfig) -> None:
    names = [s.name for s in steps_for(config)]
    start = names.index("components") + 1
    assert names[start : start + len(NODE_ONLY_STEPS)] == NODE_ONLY_STEPS
    assert names[start + len(NODE_ONLY_STEPS)] == "ceph"
    assert len(names) == len(set(names))


def test_process_profile_has_no_node_steps(tmp_path: Path, config: LabConfig) -> None:
    process = [s.name for s in steps_for(LabConfig(root=tmp_path, profile="process"))]
    assert not set(NODE_ONLY_STEPS) & set(process)
    node = [s.name for s in steps_for(config)]
    assert [n for n in node if n not in NODE_ONLY_STEPS] == process


def test_node_profile_awaits_the_pods_where_the_operator_process_is_awaited(config: LabConfig) -> None:
    (operator,) = [s for s in steps_for(config) if s.name == "operator"]
    assert operator.run is await_components


@pytest.mark.parametrize(
    ("found", "problems"),
    [
        ({"containerd": "1.6.20~ds1", "runc": "1.1.5+ds1", "CNI plugins": "1.1.1+ds1-3+b5"}, []),
        ({"containerd": "1.6", "runc": "1.1", "CNI plugins": "1.1"}, []),
        (
            {"containerd": "1.7.2", "runc": "1.1.5", "CNI plugins": "1.1.1"},
            ["containerd 1.7.2 (the lab is verified with 1.6.x)"],
        ),
        (
            {"containerd": "1.60.1", "runc": "", "CNI plugins": "1.1.1"},
            [
                "containerd 1.60.1 (the lab is verified with 1.6.x)",
                "runc of unknown version (the lab is verified with 1.1.x)",
            ],
        ),
    ],
)
def test_the_runtime_must_be_of_the_pinned_series(found: dict[str, str], problems: list[str]) -> None:
    versions = {"CONTAINERD_SERIES": "1.6", "RUNC_SERIES": "1.1", "CNI_PLUGINS_SERIES": "1.1"}
    assert runtime_series_problems(versions, found) == problems


def test_the_pinned_series_are_in_versions_env() -> None:
    versions = load_versions()
    for key in ("CONTAINERD_SERIES", "RUNC_SERIES", "CNI_PLUGINS_SERIES", "IMAGE_BASE_SUITE"):
        assert versions[key], key
