"""Who may touch the builds of an index: one builder at a time (a lock), and any number of readers (leases).

* **The build lock** (``store/build.lock``, an ``flock``): ``park-assistant index`` holds it for the whole build,
  so a second run exits with :class:`~assistant.errors.IndexBusyError` naming the first instead of silently
  discarding one of the two builds. Cleaning up old builds takes it too.
* **Leases** (``store/leases/<build id>@<pid>-<token>``): a server reading a build holds a lease on it; a build's
  collection and folder are kept while any live process holds one, so a rebuild under a running server
  drops the old collection only after the server has moved to the new build and its last request on the old
  one has finished. A lease of a dead process is stale and ignored (and removed).

>>> # with build_lock(index_dir): ...                 # the whole build
>>> # lease = hold_build(index_dir, "20261130-abc")   # a server opening a build
>>> # release(lease)                                  # … and letting it go
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from assistant.errors import IndexBusyError, StoreError

LOCK_FILE = "build.lock"
#: How long a build waits for a server's cleanup (which holds the lock for milliseconds) before giving up.
CLEANUP_WAIT_S = 10.0
LEASES = "leases"


def _store(index_dir: Path) -> Path:
    return index_dir / "store"


@contextlib.contextmanager
def build_lock(index_dir: Path, purpose: str = "build") -> Iterator[None]:
    """Hold the index's build lock for the block; :class:`IndexBusyError` when another build has it.

    ``purpose`` is written into the lock file: a build that finds a server's short ``cleanup`` holding the
    lock waits for it (a few milliseconds) instead of failing; a cleanup that finds the lock taken gives up.
    """
    root = _store(index_dir)
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_FILE
    with path.open("a+", encoding="utf-8") as f:
        deadline = time.monotonic() + CLEANUP_WAIT_S
        while not _try_lock(f):
            f.seek(0)
            holder = f.read().strip()
            if purpose == "build" and (not holder or holder.startswith("cleanup")) and time.monotonic() < deadline:
                time.sleep(0.05)  # a server dropping an old build, or a holder that is just starting
                continue
            raise IndexBusyError(f"another `park-assistant index` is building {root} ({holder or 'starting'}) — "
                                 "wait for it to finish, then run again if its sources are not yours")
        try:
            f.seek(0)
            f.truncate()
            f.write(f"{purpose}: pid {os.getpid()}, since {time.strftime('%H:%M:%S')}")
            f.flush()
            yield
        finally:
            f.seek(0)
            f.truncate()
            f.flush()
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _try_lock(f: IO[str]) -> bool:
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        return False
    return True


def hold_build(index_dir: Path, build_id: str) -> Path:
    """Take a lease on ``build_id`` for this process; returns the lease to :func:`release`.

    Raises :class:`StoreError` when a cleanup has already begun dropping the build (see :func:`doom`).
    """
    leases = _store(index_dir) / LEASES
    leases.mkdir(parents=True, exist_ok=True)
    path = leases / f"{build_id}@{os.getpid()}-{uuid.uuid4().hex[:8]}"
    path.touch()
    if _tombstone(index_dir, build_id).exists():  # lease first, then look: see doom()
        path.unlink(missing_ok=True)
        raise StoreError(f"index build {build_id} is being removed — open the live build instead")
    return path


def _tombstone(index_dir: Path, build_id: str) -> Path:
    return _store(index_dir) / LEASES / f"{build_id}.doomed"


@contextlib.contextmanager
def doom(index_dir: Path, build_id: str) -> Iterator[bool]:
    """Mark ``build_id`` as being dropped; yields whether the caller may drop it (no live lease).

    The handshake with :func:`hold_build`: a cleanup writes the tombstone, then reads the leases; a reader
    writes its lease, then looks for the tombstone. Whatever the interleaving, one of them sees the other, so
    a build is never dropped under a reader that took its lease.
    """
    stone = _tombstone(index_dir, build_id)
    stone.parent.mkdir(parents=True, exist_ok=True)
    stone.touch()
    try:
        yield build_id not in leased_builds(index_dir)
    finally:
        stone.unlink(missing_ok=True)


def release(lease: Path) -> None:
    """Give a lease back (a missing one is not an error)."""
    lease.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    return True


def leased_builds(index_dir: Path) -> set[str]:
    """Builds some live process holds a lease on; stale leases (dead processes) are removed."""
    leases = _store(index_dir) / LEASES
    held: set[str] = set()
    if not leases.exists():
        return held
    for path in leases.iterdir():
        build_id, _, owner = path.name.partition("@")
        if not owner:
            continue  # a tombstone
        try:
            pid = int(owner.split("-", 1)[0])
        except ValueError:
            continue
        if _alive(pid):
            held.add(build_id)
        else:
            path.unlink(missing_ok=True)
    return held
