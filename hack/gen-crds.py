#!/usr/bin/env python3
"""Write manifests/crds/<plural>.<group>.yaml from the pydantic models (storage_operator.api).

hack/gen-crds.py [OUT_ROOT]      (default: the repository; verify-generated.sh passes a temp dir)
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from storage_operator.api.crdgen import build_crd
from storage_operator.api.meta import GROUP
from storage_operator.api.v1alpha1 import KINDS

HEADER = "# Generated from storage_operator/api by hack/gen-crds.py (make generate); do not edit.\n"


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
    out = root / "manifests" / "crds"
    out.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for kind in KINDS:
        path = out / f"{kind.plural}.{GROUP}.yaml"
        wanted.add(path.name)
        path.write_text(HEADER + yaml.safe_dump(build_crd(kind), sort_keys=False, width=110))
    for stale in out.glob("*.yaml"):
        if stale.name not in wanted:
            stale.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
