"""Durable renames: the new file is synced before it is renamed into place, and its folder after."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from support import record_syncs

from assistant.durable import replace_durably, sync_directory, sync_folder, write_durably


def test_the_folder_is_synced_after_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "new").write_bytes(b"new")
    events = record_syncs(monkeypatch)
    replace_durably(tmp_path / "new", tmp_path / "live")
    assert events == [("replace", str(tmp_path.resolve() / "new"), None), ("fsync dir", str(tmp_path.resolve()), None)]
    assert (tmp_path / "live").read_bytes() == b"new" and not (tmp_path / "new").exists()


def test_a_write_is_synced_whole_then_renamed_then_its_folder_synced(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "current.json").write_bytes(b"old")
    events = record_syncs(monkeypatch)
    write_durably(tmp_path / "current.json", b'{"build_id": "b2"}')
    assert [kind for kind, _, _ in events] == ["fsync", "replace", "fsync dir"], events
    assert events[0][1] == events[1][1] and events[0][2] == b'{"build_id": "b2"}'  # whole when synced
    assert Path(events[0][1]).name.startswith(".") and events[0][1].endswith("-current.json")  # hidden, same suffix
    assert events[2][1] == str(tmp_path.resolve())
    assert [p.name for p in tmp_path.iterdir()] == ["current.json"]  # no temporary file left
    assert (tmp_path / "current.json").read_bytes() == b'{"build_id": "b2"}'


def test_a_check_that_fails_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    (tmp_path / "rule.md").write_bytes(b"old")
    seen: list[bytes] = []

    def unreadable(written: Path) -> None:
        seen.append(written.read_bytes())
        assert written.suffix == ".md"  # read as the target will be
        raise ValueError("not a document")

    with pytest.raises(ValueError, match="not a document"):
        write_durably(tmp_path / "rule.md", b"new", check=unreadable)
    assert seen == [b"new"] and [p.name for p in tmp_path.iterdir()] == ["rule.md"]
    assert (tmp_path / "rule.md").read_bytes() == b"old"


def test_a_written_file_gets_the_mode_open_would_give(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_durably(tmp_path / "f", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o644  # readable by a server of another user


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "current.json").write_bytes(b"old")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        write_durably(tmp_path / "current.json", b"new")
    assert [p.name for p in tmp_path.iterdir()] == ["current.json"]
    assert (tmp_path / "current.json").read_bytes() == b"old"


def _refusing(real: Callable[..., int], refused: Path) -> Callable[..., int]:
    def open_(path: str | os.PathLike[str], flags: int, *args: int) -> int:
        if Path(path) == refused:
            raise PermissionError(errno.EACCES, "a folder cannot be opened here")  # as on Windows
        return real(path, flags, *args)

    return open_


def test_where_a_folder_cannot_be_opened_the_rename_still_stands(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "new").write_bytes(b"new")
    monkeypatch.setattr(os, "open", _refusing(os.open, tmp_path))
    replace_durably(tmp_path / "new", tmp_path / "live")
    assert (tmp_path / "live").read_bytes() == b"new"


@pytest.mark.parametrize(("code", "raised"), [(errno.EINVAL, False), (errno.EIO, True)], ids=["unsupported", "io"])
def test_a_folder_sync_the_file_system_does_not_support_is_skipped_but_an_io_error_is_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, raised: bool) -> None:
    def fsync(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", fsync)
    if raised:
        with pytest.raises(OSError):
            sync_directory(tmp_path)
    else:
        sync_directory(tmp_path)


def test_a_folders_files_are_synced_then_the_folder_and_its_parent(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    build = tmp_path / "builds" / "b1"
    build.mkdir(parents=True)
    for name in ("chunks.jsonl", "bm25.json"):
        (build / name).write_text("{}", encoding="utf-8")
    events = record_syncs(monkeypatch)
    sync_folder(build)
    assert {(kind, path) for kind, path, _ in events[:2]} == {("fsync", str(build.resolve() / n))
                                                              for n in ("chunks.jsonl", "bm25.json")}
    assert events[2:] == [("fsync dir", str(build.resolve()), None), ("fsync dir", str(build.parent.resolve()), None)]
