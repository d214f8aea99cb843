"""The audit chain's key: read from a file the database never sees (``MC_AUDIT_KEY_FILE``).

With the key, every entry's hash is an HMAC-SHA-256, so someone who can write the database but
cannot read the key cannot rewrite an entry and re-hash the chain after it. Without it the
chain is plain SHA-256: it still detects careless edits, not deliberate ones.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from mission_control.errors import ConfigError
from mission_control.settings import AuditSettings

__all__ = ["MIN_KEY_BYTES", "AuditKey", "require_audit_key"]

#: The shortest key accepted: as long as the hash itself.
MIN_KEY_BYTES = 32
_VARIABLE = "MC_AUDIT_KEY_FILE"


class AuditKey:
    """A secret HMAC key; never printed (``repr`` shows only that it is set)."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_KEY_BYTES:
            raise ConfigError(
                f"{_VARIABLE}: the key must be at least {MIN_KEY_BYTES} bytes "
                f"(e.g. `openssl rand -hex 32 > FILE`), found {len(secret)}"
            )
        self._secret = secret

    def __repr__(self) -> str:
        return "AuditKey(***)"

    @classmethod
    def from_file(cls, path: Path) -> AuditKey:
        """The file's bytes without a trailing line break (what ``echo`` or an editor adds)."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{_VARIABLE}: cannot read {path}: {exc.strerror}") from None
        return cls(data.rstrip(b"\r\n"))

    def sign(self, data: bytes) -> str:
        """HMAC-SHA-256 of ``data``, hex."""
        return hmac.new(self._secret, data, hashlib.sha256).hexdigest()


def require_audit_key(settings: AuditSettings, *, optional: bool) -> AuditKey | None:
    """The key the operator and ``audit`` commands need; refuse to go without unless told.

    ``optional`` is ``--audit-key-optional``: run with an unkeyed chain, knowingly.
    """
    if settings.key_file is not None:
        return AuditKey.from_file(settings.key_file)
    if optional:
        return None
    raise ConfigError(
        f"{_VARIABLE}: is not set; the audit chain needs a key the database does not hold "
        "(a file of at least 32 random bytes), or --audit-key-optional to run without one"
    )
