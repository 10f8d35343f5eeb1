"""What one request to `tcli serve` may ask: its options (--max-body-bytes, --max-strings, --max-chars,
--api-key, --cors-origin), enforced by the HTTP front end (translate_cli/server/requests.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from annotated_types import Ge


@dataclass
class ServerLimits:
    """What one request may ask (server flags --max-body-bytes, --max-strings, --max-chars, ...)."""

    max_body_bytes: Annotated[int, Ge(1)] = 1_000_000
    max_strings: Annotated[int, Ge(1)] = 100  # strings in one request's q
    max_chars: Annotated[int, Ge(1)] = 5_000  # characters in one string
    api_key: str | None = None  # required on POST /translate when set
    cors_origins: list[str] = field(default_factory=list)  # empty: no CORS headers (browsers block other sites)

    def public(self) -> dict:
        """The limits a client may see (never the key itself)."""
        return {"max_body_bytes": self.max_body_bytes, "max_strings": self.max_strings, "max_chars": self.max_chars,
                "api_key_required": self.api_key is not None, "cors_origins": self.cors_origins}
