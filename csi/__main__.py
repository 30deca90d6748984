"""python -m csi --driver cephfs|rbd --mode controller|node|all --endpoint unix://PATH [...]

Flags override the CSI_* environment variables (csi.config documents each)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from pydantic import ValidationError

from csi.config import CSIConfig
from csi.server import serve
from storage_operator.logging import setup_logging


def parse_args(argv: list[str]) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m csi", description="CSI plugin for Ceph volumes (CephFS, RBD)")
    p.add_argument("--driver", choices=["cephfs", "rbd"])
    p.add_argument("--mode", choices=["controller", "node", "all"])
    p.add_argument("--endpoint", help="unix://PATH of the gRPC socket")
    p.add_argument("--node-id", dest="node_id")
    p.add_argument("--monitors", help="Ceph monitor addresses, comma separated")
    p.add_argument("--state-dir", dest="state_dir")
    p.add_argument("--metrics-address", dest="metrics_address", help="HOST:PORT for /metrics and /healthz")
    p.add_argument(
        "--kubelet-registration-path",
        dest="kubelet_registration_path",
        help="node: the CSI socket's path on the host, as the kubelet dials it (with --registration-dir)",
    )
    p.add_argument(
        "--registration-dir",
        dest="registration_dir",
        help="node: the kubelet's plugins_registry directory, to register in (with --kubelet-registration-path)",
    )
    p.add_argument("--log-level", dest="log_level")
    args = vars(p.parse_args(argv))
    return {k: v for k, v in args.items() if v is not None}


def main(argv: list[str] | None = None) -> int:
    try:
        config = CSIConfig(**parse_args(sys.argv[1:] if argv is None else argv))
        config.socket_path  # noqa: B018 - validates the endpoint before anything starts
    except (ValidationError, ValueError) as exc:
        print(f"python -m csi: {exc}", file=sys.stderr)
        return 2
    if config.serves_node and not config.node_id:
        print("python -m csi: node mode needs --node-id (or CSI_NODE_ID)", file=sys.stderr)
        return 2
    setup_logging(config.log_level, config.log_format)
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
