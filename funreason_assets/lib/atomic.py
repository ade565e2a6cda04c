"""Atomic file writes: a reader sees the old file or the new one, never a part of either.

Every write goes to a temporary file in the target's folder (so the final rename stays on one
file system), is flushed and fsynced, and then replaces the target with `os.replace`, which is
atomic on POSIX and Windows. The folder is fsynced too, so the rename survives a power cut.
A write that fails, or a process that is killed mid-write, leaves the target untouched; a
killed process may leave its `.<name>.*.tmp` file behind, which no reader looks at.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

TEMP_SUFFIX = ".tmp"


def _sync_folder(folder: Path) -> None:
    # Not every platform can open a folder (Windows cannot); the rename is atomic regardless.
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def _new_temporary(path: Path) -> Path:
    # Created with the mode a plain `open` would give (0o666 less the umask), unlike
    # `tempfile.mkstemp`'s 0o600, so the replaced file keeps the permissions it always had.
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")
        try:
            os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return temporary


@contextlib.contextmanager
def atomic_path(path: Path, durable: bool = True) -> Iterator[Path]:
    """A temporary path to write in full; it replaces `path` when the block exits cleanly.

    For writers that want a path rather than a handle (Parquet, images). The parent folder is
    created if needed. If the block raises, the temporary file is removed and `path` is left
    as it was.

    Args:
        path: The file to replace.
        durable: Fsync the file and its folder. A cache whose lost entry is only a miss skips
            it: the rename stays atomic, and an entry a power cut empties reads as absent.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _new_temporary(path)
    try:
        yield temporary
        if durable:
            with temporary.open("rb+") as written:
                os.fsync(written.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if durable:
        _sync_folder(path.parent)


@contextlib.contextmanager
def atomic_writer(path: Path, encoding: str = "utf-8") -> Iterator[TextIO]:
    """A text handle whose content replaces `path` only when the block exits cleanly."""
    with atomic_path(path) as temporary, temporary.open("w", encoding=encoding) as handle:
        yield handle
        handle.flush()


def atomic_write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    """Replace `path` with `data` atomically (see `atomic_path` for `durable`)."""
    with atomic_path(path, durable) as temporary:
        temporary.write_bytes(data)


def atomic_write_text(
    path: Path, text: str, encoding: str = "utf-8", durable: bool = True
) -> None:
    """Replace `path` with `text` atomically (see `atomic_path` for `durable`)."""
    atomic_write_bytes(path, text.encode(encoding), durable)


def atomic_write_url(url: str, data: bytes) -> None:
    """Replace the object or file at an fsspec URL with `data`, readers never seeing a part.

    The bytes go to a temporary name beside the target, which is then moved over it: a rename
    on file systems, and on object stores a copy that becomes visible only once complete.
    """
    import fsspec

    filesystem, target = fsspec.core.url_to_fs(url)
    parent, _, name = target.rpartition("/")
    temporary = f"{parent}/.{name}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
    filesystem.makedirs(parent, exist_ok=True)
    try:
        with filesystem.open(temporary, "wb") as handle:
            handle.write(data)
        filesystem.mv(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            filesystem.rm(temporary)
        raise
