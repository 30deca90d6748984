#!/usr/bin/env python3
"""Record the JSON replies the parsers are tested on, from a running lab (`make lab`).

hack/record-ceph-fixtures.py [LAB_DIR]      writes tests/fixtures/ceph/<name>.json

The lab's examples (a replicated and an erasure-coded pool, a file system with a standby-replay MDS)
make the recordings cover every shape the parsers read. Re-record after a Ceph upgrade and rerun
`make unit`: a parser that no longer understands Ceph's output fails there first.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from storage_operator.ceph import crush, df, ecprofile, fs, osd, pools, status, subvolumes
from storage_operator.ceph.client import CephClient
from storage_operator.ceph.command import Command, mgr

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "fixtures" / "ceph"

RECORDINGS: dict[str, Command] = {
    "status-lab": status.build_status(),
    "version": status.build_version(),
    "df-detail": df.build_df(),
    "osd-tree": osd.build_osd_tree(),
    "crush-rule-dump": crush.build_rule_dump(),
    "pool-ls-detail": pools.build_ls_detail(),
    "ec-profile-ecpool": ecprofile.build_profile_get("ecpool-ec"),
    "fs-dump": fs.build_fs_dump(),
    "subvolume-ls-shared": subvolumes.build_subvolume_ls("shared"),
    "subvolumegroup-ls-shared": subvolumes.build_group_ls("shared"),
    "subvolume-ls-shared-grp": subvolumes.build_subvolume_ls("shared", "grp"),
    "config-dump": pools.build_config_dump(),
}
# Made for the recordings (a subvolume in the default group, one in group "grp") and removed after.
SETUP = [
    mgr("fs subvolume create", vol_name="shared", sub_name="sv-a"),
    mgr("fs subvolumegroup create", vol_name="shared", group_name="grp"),
    mgr("fs subvolume create", vol_name="shared", sub_name="sv-b", group_name="grp"),
]
TEARDOWN = [
    mgr("fs subvolume rm", vol_name="shared", sub_name="sv-b", group_name="grp"),
    mgr("fs subvolume rm", vol_name="shared", sub_name="sv-a"),
    mgr("fs subvolumegroup rm", vol_name="shared", group_name="grp"),
]


def main() -> int:
    lab = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / ".lab"
    OUT.mkdir(parents=True, exist_ok=True)
    with CephClient(conffile=lab / "ceph" / "ceph.conf", keyring=lab / "ceph" / "ceph.client.admin.keyring") as c:
        for command in SETUP:
            c.run(command)
        try:
            for name, command in RECORDINGS.items():
                reply = c.run(command)
                (OUT / f"{name}.json").write_text(json.dumps(reply, indent=2, sort_keys=True) + "\n")
                print(f"recorded {name}.json ({command.prefix})")
        finally:
            for command in TEARDOWN:
                c.run(command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
