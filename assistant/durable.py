"""Files moved into place so that a power cut keeps either the old file or the whole new one.

Three things must reach the disk, in order: the new file's bytes (synced before the rename, or the name may
come to point at an empty file), the rename, and the rename's record in its folder. ``os.replace`` is atomic
for readers, but the folder's entry list is data of its own: until the folder is synced, a power cut may undo
the rename. Every atomic write of the package (the index manifest, an uploaded document, the token cache)
goes through :func:`replace_durably` or :func:`write_durably`.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> write_durably(folder / "current.json", b"{}")
>>> sorted(p.name for p in folder.iterdir())
['current.json']
"""

from __future__ import annotations

import contextlib
import errno
import os
import uuid
from collections.abc import Callable
from pathlib import Path

#: fsync of a folder is refused with these on file systems that do not support it; the rename still stands.
_UNSUPPORTED = (errno.EINVAL, errno.ENOTSUP, errno.EBADF)


def sync_directory(folder: str | os.PathLike[str]) -> None:
    """fsync ``folder`` itself, so the names created, renamed or removed in it are on disk. Nothing happens where a
    folder cannot be opened (Windows) or synced (some network file systems)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _UNSUPPORTED:
            raise
    finally:
        os.close(fd)


def replace_durably(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """``os.replace(src, dst)``, then ``dst``'s folder synced so the rename survives a power cut. ``src`` must be
    written whole and synced already (:func:`write_durably` does both)."""
    os.replace(src, dst)
    sync_directory(Path(dst).parent)


def write_durably(target: Path, data: bytes, check: Callable[[Path], object] | None = None) -> None:
    """Write ``data`` to ``target`` atomically and durably: a temporary file beside it, synced, renamed over it
    with :func:`replace_durably`. Readers see the old file or the new one whole; no temporary file is left.

    ``check``, when given, reads the temporary file before the rename; what it raises leaves ``target`` as it was.
    The temporary file is hidden (a folder walk that skips dot files does not see it) and keeps ``target``'s
    suffix, so it reads as ``target`` will."""
    tmp = target.with_name(f".{uuid.uuid4().hex[:12]}-{target.name}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask's mode, as open() would give
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if check is not None:
            check(tmp)
        replace_durably(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def sync_folder(folder: Path) -> None:
    """fsync every file of ``folder``, then the folder and its parent (which hold their names): a build's files,
    before the manifest is swapped to name them."""
    for path in folder.iterdir():
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    sync_directory(folder)
    sync_directory(folder.parent)
