"""The audit trail: one helper so every change is recorded the same way (reading it:
engine/services/audit_trail.py)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from engine.models import AuditLog


def record(
    session: Session,
    actor: str,
    action: str,
    *,
    target_type: str | None = None,
    target_id: object | None = None,
    ip: str | None = None,
    **details: Any,
) -> AuditLog:
    entry = AuditLog(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        ip=ip,
        details=details,
    )
    session.add(entry)
    return entry
