"""Identity node: message a linked person on the platform they prefer."""

from __future__ import annotations

from pydantic import Field
from sqlmodel import Session, select

from engine.db import in_session
from engine.models import PlatformAccount, UserIdentity
from engine.nodes.base import NodeParams, NodeResult, RunContext
from engine.nodes.community_data import account_of, trigger_kind
from engine.nodes.cross_platform import TEXT_FIELD, PlatformName, Target, cross_platform, send_each
from engine.platform_calls import DEFAULT_KIND


class SendToIdentityParams(NodeParams):
    text: str = TEXT_FIELD
    identity_id: int | None = Field(
        default=None,
        description="The linked person; empty means the person behind the trigger's user",
        examples=[12],
    )
    platform: PlatformName | None = Field(
        default=None,
        description="Platform to use; empty means the person's preferred one",
        examples=["telegram"],
    )


def _identity_target(
    session: Session, ctx: RunContext, p: SendToIdentityParams
) -> tuple[Target, int]:
    identity_id = p.identity_id
    if identity_id is None:
        account = account_of(session, ctx.trigger)
        identity_id = account.identity_id if account else None
    identity = session.get(UserIdentity, identity_id) if identity_id else None
    if identity is None:
        raise ValueError("no linked identity for this user")
    accounts = list(
        session.exec(select(PlatformAccount).where(PlatformAccount.identity_id == identity.id))
    )
    order = [p.platform, identity.preferred_platform, ctx.trigger.get("platform")]
    ranked = sorted(
        accounts, key=lambda a: order.index(a.platform) if a.platform in order else len(order)
    )
    if not ranked or (p.platform and ranked[0].platform != p.platform):
        raise ValueError(f"identity {identity.id} has no {p.platform or 'platform'} account")
    account = ranked[0]
    kind = DEFAULT_KIND[account.platform]
    instance_id = None
    if ctx.trigger.get("platform") == account.platform:
        kind, instance_id = trigger_kind(ctx.trigger)
    assert identity.id is not None
    return Target(account.platform, kind, instance_id, account.platform_user_id), identity.id


@cross_platform(
    "send_to_identity",
    "Send to person",
    "Message a linked person on their preferred platform.",
    SendToIdentityParams,
)
async def send_to_identity(ctx: RunContext, p: SendToIdentityParams) -> NodeResult:
    target, identity_id = await in_session(_identity_target, ctx, p)
    [result] = await send_each(ctx, [(target, p.text)], how="dm")
    if not result["ok"]:
        raise RuntimeError(f"sending to {target.platform} failed: {result['error']}")
    return NodeResult(output={"identity_id": identity_id, "user_id": target.chat_id, **result})
