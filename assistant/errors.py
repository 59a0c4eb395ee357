"""Errors the assistant raises. Every message says what failed and what to do next.

Outer layers translate them: the CLI prints one line and exits non-zero, the API answers JSON 4xx/5xx,
the web chat shows what the API says (``assistant.web.errors.public_message``).
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base class of every error the package raises on purpose."""


class ConfigError(AssistantError):
    """A setting is missing or invalid (the message names the environment variable)."""


class IndexNotBuiltError(AssistantError):
    """No built index where one was expected."""


class IngestError(AssistantError):
    """A source file could not be read or parsed."""


class EmbeddingError(AssistantError):
    """The embedding backend failed."""


class StoreError(AssistantError):
    """The vector store failed (chroma unreachable, collection missing, …)."""


class PromptError(AssistantError):
    """A prompt template is missing or was rendered with missing/unknown variables."""


class LLMError(AssistantError):
    """The chat model was unreachable, timed out or answered with an error."""


class InputError(AssistantError):
    """The caller's input is invalid (empty question, bad characters, bad history).

    ``code`` is a stable machine-readable name the API puts in its error body.
    """

    def __init__(self, message: str, *, code: str = "invalid_input") -> None:
        super().__init__(message)
        self.code = code


class LimitError(InputError):
    """The caller's input is larger than :class:`assistant.limits.Limits` allows (the API answers 413)."""


class IndexBusyError(AssistantError):
    """Another build holds the index's build lock."""
