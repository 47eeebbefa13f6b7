"""How a webhook sender signs, written out from the documented scheme rather than taken from
the receiver's code, so the tests catch a receiver that drifts from what the README says."""

from __future__ import annotations

import hashlib
import hmac
import time


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """``X-Flowbot-Timestamp`` (now unless given) and ``X-Flowbot-Signature: sha256=<hex
    HMAC-SHA256 of "<timestamp>.<body>">``."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Flowbot-Timestamp": stamp, "X-Flowbot-Signature": f"sha256={digest}"}
