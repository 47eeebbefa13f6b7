"""The WhatsApp groups the account is in: chat_seen events and the list_* pool actions.

whatsmeow lists the joined groups (with their participants) on request, so the connector
discovers them all after each connect, a group the account is added to from the JoinedGroup
event (which carries the group's info), and a group again when its info changes (a new
subject, people added, the account promoted or removed). Group superadmins are the
groups' owners (the creator, or whoever the creator made one), admins are admins.

Importing this module registers ``list_members`` and ``list_chats`` with the WhatsApp
actions (the connector imports it; the handlers need the actions' JID helpers).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from neonize.aioze.client import NewAClient
from neonize.exc import NeonizeError
from neonize.proto.Neonize_pb2 import (
    JID,
    GroupInfo,
    GroupInfoEvent,
    GroupParticipant,
    JoinedGroup,
)

from connectors.whatsapp_user.actions import WhatsAppContext, actions, jid_str, to_jid
from connectors.whatsapp_user.mapper import CONNECTOR
from engine.chat_discovery import (
    LIST_CHATS,
    LIST_MEMBERS,
    ListChatsParams,
    ListMembersParams,
    MemberRole,
    chat_entry,
    chat_seen,
    member_entry,
)
from engine.platform_event import EventChat, EventUser, PlatformEvent, timestamp_key

log = logging.getLogger(__name__)

_PHONE_SERVER = "s.whatsapp.net"


def _group_chat(jid: JID, subject: str | None) -> EventChat:
    return EventChat(id=jid_str(jid), type="group", title=subject or None)


def _own_ids(client: NewAClient) -> set[str]:
    """The account's user parts (phone number and LID): participants are listed by either."""
    me = client.me
    if me is None:
        return set()
    return {jid.User for jid in (me.JID, me.LID) if jid.User}


def _is_me(participant: GroupParticipant, own: set[str]) -> bool:
    return bool({participant.JID.User, participant.LID.User} & own)


def role_of(participant: GroupParticipant) -> MemberRole:
    if participant.IsSuperAdmin:
        return "owner"
    return "admin" if participant.IsAdmin else "member"


def phone_of(participant: GroupParticipant) -> str | None:
    """``+<digits>`` from the phone-number JID, where WhatsApp gives one (not for LIDs)."""
    for jid in (participant.JID, participant.PhoneNumber):
        if jid.Server == _PHONE_SERVER and jid.User:
            return f"+{jid.User}"
    return None


def _bot_is_admin(info: GroupInfo, own: set[str]) -> bool | None:
    mine = [p for p in info.Participants if _is_me(p, own)]
    return role_of(mine[0]) != "member" if mine else None


def group_seen(info: GroupInfo, instance_id: int | None, own: set[str]) -> PlatformEvent:
    chat = _group_chat(info.JID, info.GroupName.Name)
    is_admin = _bot_is_admin(info, own)
    return chat_seen(
        CONNECTOR,
        instance_id,
        chat,
        f"{chat.id}:{timestamp_key()}",
        member_count=len(info.Participants),
        bot_is_admin=is_admin,
        bot_rights={"admin": bool(is_admin)},
    )


def joined_group(client: NewAClient, event: JoinedGroup, instance_id: int | None) -> PlatformEvent:
    """The group the account was just added to (or created, or joined by link)."""
    return group_seen(event.GroupInfo, instance_id, _own_ids(client))


async def joined_groups(client: NewAClient, instance_id: int | None) -> list[PlatformEvent]:
    """A chat_seen per group the account is in."""
    own = _own_ids(client)
    return [group_seen(info, instance_id, own) for info in await client.get_joined_groups()]


def _left(jids: Iterable[JID], own: set[str]) -> bool:
    return any(jid.User in own for jid in jids)


async def group_changed(
    client: NewAClient, event: GroupInfoEvent, instance_id: int | None
) -> PlatformEvent:
    """The group as it now is; ``gone`` when the account left or was removed. When the
    group's info cannot be fetched, what the event says (its new subject) is reported."""
    own = _own_ids(client)
    chat = _group_chat(event.JID, event.Name.Name)
    if _left(event.Leave, own):
        return chat_seen(CONNECTOR, instance_id, chat, f"{chat.id}:{timestamp_key()}", gone=True)
    try:
        return group_seen(await client.get_group_info(event.JID), instance_id, own)
    except NeonizeError as error:
        log.info("group info of %s not fetched: %s", chat.id, type(error).__name__)
        return chat_seen(CONNECTOR, instance_id, chat, f"{chat.id}:{timestamp_key()}")


# -- pool actions -----------------------------------------------------------------------------


@actions.action(LIST_MEMBERS, ListMembersParams)
async def list_members(ctx: WhatsAppContext, params: ListMembersParams) -> dict[str, Any]:
    """The group's participants, superadmins as owners, with phone numbers where known."""
    info = await ctx.client.get_group_info(to_jid(params.chat_id, "chat_id"))
    members = [
        member_entry(
            EventUser(id=jid_str(p.JID), display_name=p.DisplayName or None),
            role_of(p),
            phone_of(p),
        )
        for p in info.Participants
    ]
    return {"members": members}


@actions.action(LIST_CHATS, ListChatsParams)
async def list_chats(ctx: WhatsAppContext, params: ListChatsParams) -> dict[str, Any]:
    own = _own_ids(ctx.client)
    chats = [
        chat_entry(
            _group_chat(info.JID, info.GroupName.Name),
            member_count=len(info.Participants),
            bot_is_admin=_bot_is_admin(info, own),
        )
        for info in await ctx.client.get_joined_groups()
    ]
    return {"chats": chats}
