"""A cephx key on disk for exactly as long as a tool needs it to authenticate.

ceph-fuse, rbd-fuse and `rbd device map` read the key from a file (``--keyfile``); a command-line key
would be readable by every user of the node. The file lives in a private directory (0700) of the plugin's
state dir, is written 0600, and is removed as soon as the tool has mounted or mapped (it keeps the key
in memory for re-authentication).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def keyfile(state_dir: Path, key: str) -> Iterator[Path]:
    private = state_dir / "keys"
    private.mkdir(parents=True, exist_ok=True, mode=0o700)
    private.chmod(0o700)
    fd, name = tempfile.mkstemp(dir=private, prefix="key-")  # 0600 from the start
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:  # closes the descriptor exactly once, whatever happens
            f.write(key.strip().encode())
        yield path
    finally:
        path.unlink(missing_ok=True)
