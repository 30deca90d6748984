"""Command line: ``storage-operator operator`` (the controllers), ``agent`` (the node agent), ``nfs volumes``
(what is on an NFS export) and ``lab up|down|status``."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from storage_operator import __version__
from storage_operator.errors import StorageError

REPO_ROOT = Path(__file__).resolve().parents[1]
CEPH_BINDINGS = {"rados", "rbd", "cephfs"}


def _lab(args: argparse.Namespace) -> int:
    # Imported here: the lab pulls in the Ceph bindings and the lab's tooling, which other commands
    # (operator, agent) do without.
    from storage_operator.lab.config import LabConfig  # noqa: PLC0415
    from storage_operator.lab.lab import Lab  # noqa: PLC0415
    from storage_operator.lab.summary import describe  # noqa: PLC0415

    config = LabConfig.from_env(os.environ, default_root=REPO_ROOT / ".lab")
    lab = Lab(config, say=lambda line: print(line, flush=True))
    if args.action == "up":
        state = lab.up()
        print()
        print("\n".join(describe(config, state, repo_root=REPO_ROOT)))
    elif args.action == "down":
        lab.down(keep_logs=not args.purge)
    else:
        current = lab.state()
        if current is None:
            print(f"no lab at {config.root}; `make lab` starts one")
            return 3
        print(
            f"lab at {config.root}: {current.phase}, {current.profile} profile "
            f"(started {current.started_at:%Y-%m-%d %H:%M:%S} UTC)"
        )
        running = dataclasses.replace(config, profile="node" if current.profile == "node" else "process")
        print("\n".join(describe(running, current, repo_root=REPO_ROOT)))
    return 0


def _http(value: str | None) -> dict[str, object]:
    """--http HOST:PORT as settings (an empty host: every address, as in a pod; the lab passes 127.0.0.1)."""
    if not value:
        return {}
    host, _, port = value.rpartition(":")
    return {"http_host": host or "0.0.0.0", "http_port": int(port)}  # noqa: S104


def _operator(args: argparse.Namespace) -> int:
    from storage_operator.config import OperatorConfig  # noqa: PLC0415 (the lab does without it)
    from storage_operator.controllers.operator import run_operator  # noqa: PLC0415

    overrides: dict[str, object] = {}
    if args.kubeconfig:
        overrides["kubeconfig"] = Path(args.kubeconfig)
    if args.namespace:
        overrides["namespace"] = args.namespace
    if args.identity:
        overrides["identity"] = args.identity
    try:
        overrides |= _http(args.http)
        config = OperatorConfig(**overrides)  # type: ignore[arg-type]  # validated by pydantic
    except ValueError as exc:
        print(f"error: bad operator settings: {exc}", file=sys.stderr)
        return 2
    return run_operator(config)


def _agent(args: argparse.Namespace) -> int:
    from storage_operator.agent.process import run_agent  # noqa: PLC0415 (pyudev only where it is used)
    from storage_operator.config import AgentConfig  # noqa: PLC0415
    from storage_operator.lab.config import parse_size  # noqa: PLC0415 (the one size parser)

    overrides: dict[str, object] = {}
    for name in ("node", "kubeconfig", "loop_backing_dir", "rescan", "event_source"):
        value = getattr(args, name)
        if value is not None:
            key = {"node": "node_name", "rescan": "rescan_seconds"}.get(name, name)
            overrides[key] = Path(value) if name in ("kubeconfig", "loop_backing_dir") else value
    if args.consider_loop:
        overrides["consider_loop"] = True
    if args.consider_partitions:
        overrides["consider_partitions"] = True
    try:
        if args.min_size:
            overrides["min_size_bytes"] = parse_size(args.min_size)
        overrides |= _http(args.http)
        config = AgentConfig(**overrides)  # type: ignore[arg-type]  # validated by pydantic
    except (ValueError, StorageError) as exc:
        print(f"error: bad agent settings: {exc}", file=sys.stderr)
        return 2
    return run_agent(config)


def _nfs(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415

    from storage_operator.controllers.nfs.listing import format_rows, list_volumes  # noqa: PLC0415

    kubeconfig = Path(args.kubeconfig) if args.kubeconfig else None
    if kubeconfig is None and os.environ.get("KUBECONFIG"):
        kubeconfig = Path(os.environ["KUBECONFIG"])
    rows = asyncio.run(list_volumes(kubeconfig, args.backend))
    print(format_rows(rows))
    return 0


def _ceph_daemon(args: argparse.Namespace) -> int:
    from storage_operator.daemons.launch import launch_daemon  # noqa: PLC0415

    launch_daemon(args.daemon)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="storage-operator", description=__doc__)
    parser.add_argument("--version", action="version", version=f"storage-operator {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("lab", help="the local lab (real control plane, Ceph, NFS, loop disks on 127.0.0.1)")
    lab.add_argument("action", choices=["up", "down", "status"])
    lab.add_argument("--purge", action="store_true", help="with down: remove the logs as well")
    lab.set_defaults(func=_lab)
    op = sub.add_parser(
        "operator",
        help="run the controllers (CephCluster, CephBlockPool, CephFilesystem) with leader election",
        description="Settings also come from STORAGE_OPERATOR_* environment variables "
        "(all of them are in storage_operator/config.py).",
    )
    op.add_argument("--kubeconfig", help="kubeconfig to use (default: $KUBECONFIG, else the pod's ServiceAccount)")
    op.add_argument("--namespace", help="the operator's namespace: its Lease and readable Secrets (storage-system)")
    op.add_argument("--identity", help="this replica's name in the Lease (default: $POD_NAME or host-pid)")
    op.add_argument("--http", metavar="HOST:PORT", help="where /metrics, /healthz, /readyz listen (0.0.0.0:8080)")
    op.set_defaults(func=_operator)
    agent = sub.add_parser(
        "agent",
        help="the node agent: find this node's block devices, say which are free and why, in its DiskInventory",
        description="Settings also come from STORAGE_AGENT_* environment variables and NODE_NAME "
        "(all of them are in storage_operator/config.py). It writes to no device.",
    )
    agent.add_argument("--node", help="this node's name (default: $NODE_NAME)")
    agent.add_argument("--kubeconfig", help="kubeconfig to use (default: $KUBECONFIG, else the pod's ServiceAccount)")
    agent.add_argument("--min-size", help="smaller devices are never available, e.g. 1G (default 1 GiB)")
    agent.add_argument("--consider-loop", action="store_true", help="offer loop devices too")
    agent.add_argument("--consider-partitions", action="store_true", help="offer partitions too")
    agent.add_argument(
        "--loop-backing-dir",
        help="report only loop devices backed by files under this directory (the lab's per-node disks)",
    )
    agent.add_argument("--rescan", type=float, help="seconds between full rescans (default 60)")
    agent.add_argument("--event-source", choices=["auto", "udev", "kernel"], help="where uevents come from")
    agent.add_argument("--http", metavar="HOST:PORT", help="where /metrics and /healthz listen (0.0.0.0:8081)")
    agent.set_defaults(func=_agent)
    daemon = sub.add_parser(
        "ceph-daemon",
        help="run a managed cluster's Ceph daemon (the entrypoint of the pods the operator makes)",
        description="Reads CEPH_DAEMON_ID and the variables the operator's Deployment sets, writes the daemon's "
        "keyring (and for a new mon its store; for an OSD the data directory from its device's label), then "
        "becomes the daemon.",
    )
    daemon.add_argument("daemon", choices=["mon", "mgr", "osd", "mds"])
    daemon.set_defaults(func=_ceph_daemon)
    nfs = sub.add_parser("nfs", help="the NFS bridge's volumes, as they are on the export")
    nfs_sub = nfs.add_subparsers(dest="nfs_command", required=True)
    volumes = nfs_sub.add_parser(
        "volumes",
        help="list the volume directories on an NFSBackend's export and who owns them",
        description="Reads every volume's ownership record over NFS (no mount) and compares it with this "
        "cluster's PersistentVolumes: in use here, released, archived, orphaned, or held by another cluster.",
    )
    volumes.add_argument("--backend", required=True, help="the NFSBackend's name")
    volumes.add_argument("--kubeconfig", help="kubeconfig to use (default: $KUBECONFIG, else the pod's ServiceAccount)")
    volumes.set_defaults(func=_nfs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:
        if exc.name in CEPH_BINDINGS:
            print(
                f"error: Ceph's Python bindings ({exc.name}) are not importable: run `make packages venv` "
                "(Debian's python3-rados & co., linked into .venv)",
                file=sys.stderr,
            )
            return 1
        raise
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
