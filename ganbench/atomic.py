"""Atomic writes: build a file or folder beside its destination, then rename it into place.

A reader (another rank, a resumed run, a crash-restarted worker) sees the old version or
the complete new one, never half a file. The temporary sits in the destination's own
folder because a rename is only atomic within one filesystem.
"""
from __future__ import annotations

import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


@contextmanager
def atomic_path(dest: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a fresh temporary path beside `dest`; write a file or a folder there. When the
    block ends normally it replaces `dest`; when it raises, the temporary is removed and
    `dest` is left as it was.

    suffix: for writers that insist on an extension (np.savez appends `.npz` otherwise).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}")
    try:
        yield tmp
        if dest.is_dir() and tmp.is_dir():
            # os.replace cannot replace a non-empty folder: drop the old one first. A crash
            # in between loses only a version that is being rewritten anyway.
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.exists() or tmp.is_symlink():
            _remove(tmp)
