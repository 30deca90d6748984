"""Command line: ``storage-operator operator`` (the controllers) and ``storage-operator lab up|down|status``."""

from __future__ import annotations

import argparse
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
        print(f"lab at {config.root}: {current.phase} (started {current.started_at:%Y-%m-%d %H:%M:%S} UTC)")
        print("\n".join(describe(config, current, repo_root=REPO_ROOT)))
    return 0


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
        if args.http:
            host, _, port = args.http.rpartition(":")
            overrides["http_host"] = host or "0.0.0.0"  # noqa: S104 (in a pod; the lab passes 127.0.0.1)
            overrides["http_port"] = int(port)
        config = OperatorConfig(**overrides)  # type: ignore[arg-type]  # validated by pydantic
    except ValueError as exc:
        print(f"error: bad operator settings: {exc}", file=sys.stderr)
        return 2
    return run_operator(config)


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
