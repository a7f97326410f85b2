"""HMAC signatures of operator pushes (see shared/api-contract.md, "Upstream signing")."""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "X-Cardpulse-Timestamp"
SIGNATURE_HEADER = "X-Cardpulse-Signature"


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp` (unix seconds)."""
    message = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_problem(
    secret: str | list[str] | None, timestamp: str | None, signature: str | None, body: bytes,
    now: float, max_skew_s: int,
) -> str | None:
    """Why a push must be refused (401), or None when its signature is good and fresh.

    `secret` may be several (the current and, during a rotation, the previous one)."""
    secrets = [secret] if isinstance(secret, str) else list(secret or [])
    if not secrets:
        return "no push secret is configured for this operator"
    if not timestamp or not signature:
        return f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers are required"
    try:
        sent = int(timestamp)
    except ValueError:
        return f"{TIMESTAMP_HEADER} must be unix seconds"
    if abs(now - sent) > max_skew_s:
        return f"{TIMESTAMP_HEADER} is more than {max_skew_s} s away from the server clock"
    if not any(hmac.compare_digest(sign(s, timestamp, body), signature) for s in secrets):
        return "signature does not match"
    return None
