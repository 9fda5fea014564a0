"""Where checkpoints live: a local path or an object-store URI (s3://, gs://, abfs://...).

On one machine `--out runs` is a folder. On a cluster the workers are on other nodes, so
checkpoints must go to storage every node (and the next run) can reach: Ray Train writes
them there itself (`RunConfig(storage_path=URI)`), and everything that later reads a
checkpoint (`--resume`, `sample`, `export`, `fid`) fetches it through this module.

Filesystems are pyarrow's, as in Ray Train, so the same URIs and credentials work: for S3
the usual AWS variables, plus `AWS_ENDPOINT_URL` for MinIO or another S3-compatible store.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Union

from ganbench.errors import ConfigError

PathLike = Union[str, Path]

_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_uri(p: PathLike) -> bool:
    """True for `scheme://...` other than file:// (which is just a local path)."""
    s = str(p)
    return bool(_URI.match(s)) and not s.startswith("file://")


def local_path(p: PathLike) -> Path:
    s = str(p)
    return Path(s[len("file://"):] if s.startswith("file://") else s)


def join(base: PathLike, *parts: str) -> str:
    if is_uri(base):
        return "/".join([str(base).rstrip("/"), *parts])
    return str(local_path(base).joinpath(*parts).resolve())


def filesystem(uri: str):
    """(pyarrow filesystem, path inside it) for a URI; a clear error when it cannot be reached."""
    import pyarrow.fs as pafs

    try:
        return pafs.FileSystem.from_uri(uri)
    except Exception as e:  # unknown scheme, missing credentials, bad bucket name
        raise ConfigError(f"cannot open storage {uri}: {type(e).__name__}: {e}") from None


def check_writable(where: PathLike) -> None:
    """Fail before training starts (not after the first epoch) when `--out` cannot take files."""
    if is_uri(where):
        fs, path = filesystem(str(where))
        probe = f"{path.rstrip('/')}/.ganbench-write-test"
        try:
            with fs.open_output_stream(probe) as f:
                f.write(b"ok")
            fs.delete_file(probe)
        except Exception as e:
            raise ConfigError(f"cannot write to --out {where}: {type(e).__name__}: {e}") from None
        return
    d = local_path(where)
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / ".ganbench-write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"cannot write to --out {d}: {e.strerror or e} ({type(e).__name__})") from None


def cache_root() -> Path:
    return Path(os.environ.get("GANBENCH_CACHE", Path.home() / ".cache" / "ganbench"))


def fetch_dir(uri: PathLike) -> Path:
    """A local copy of a checkpoint folder (or file) at `uri`; local paths are returned as is.

    Copies go to the ganbench cache, keyed by the URI. A checkpoint is read several times on
    resume (the CLI's config, the MLflow handle, the loop), so a copy whose files and sizes
    match the remote listing is reused instead of downloaded again.
    """
    if not is_uri(uri):
        return local_path(uri)
    import shutil

    import pyarrow.fs as pafs

    fs, path = filesystem(str(uri))
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise ConfigError(f"nothing at {uri}")
    dest = cache_root() / "remote" / hashlib.sha256(str(uri).encode()).hexdigest()[:16] / Path(path).name
    if info.type == pafs.FileType.File:
        remote = {"": info.size}
        local = {"": dest.stat().st_size} if dest.is_file() else {}
    else:
        remote = {i.path[len(path):].lstrip("/"): i.size
                  for i in fs.get_file_info(pafs.FileSelector(path, recursive=True)) if i.type == pafs.FileType.File}
        local = {str(p.relative_to(dest)): p.stat().st_size for p in dest.rglob("*") if p.is_file()} \
            if dest.is_dir() else {}
    if local and local == remote:
        return dest
    if dest.is_dir():
        shutil.rmtree(dest)
    else:
        dest.unlink(missing_ok=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if info.type != pafs.FileType.File:
        dest.mkdir()
    pafs.copy_files(path, str(dest), source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
    return dest


def to_uri(base: PathLike, fs_path: str) -> str:
    """Turn a path inside `base`'s filesystem (what Ray's Checkpoint.path holds) back into a
    URI with `base`'s scheme, so it can be printed, tagged and passed to --resume."""
    if not is_uri(base):
        return fs_path
    scheme = str(base).split("://", 1)[0]
    return f"{scheme}://{fs_path.lstrip('/')}"
