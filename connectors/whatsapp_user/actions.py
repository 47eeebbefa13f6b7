"""WhatsApp actions: every ``wa_*`` node through the neonize (async) client method of the same
meaning, with JIDs and messages built from neonize's own protobuf types.

Handlers receive a :class:`WhatsAppContext`: the client plus the recently seen messages, since
quoting, replying and marking read need the original message, which a flow names by id only.
"""

from __future__ import annotations

import re
import shutil
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from neonize.aioze.client import NewAClient
from neonize.exc import NeonizeError
from neonize.proto.Neonize_pb2 import JID, MessageInfo, MessageSource, SendResponse
from neonize.proto.Neonize_pb2 import Message as MessageEv
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ContextInfo, LocationMessage, Message
from neonize.utils.enum import (
    ChatPresence,
    ChatPresenceMedia,
    ParticipantChange,
    ReceiptType,
    VoteType,
)
from neonize.utils.jid import Jid2String, JIDToNonAD, build_jid

from connectors.kit.actions import ActionRegistry
from connectors.kit.catalogue import node_action
from connectors.kit.convert import http_url, invalid
from connectors.whatsapp_user.senders import SenderRecords
from engine.action_errors import ActionError, ErrorKind
from engine.nodes import whatsapp_user as p


class MessageCache:
    """The last ``size`` messages seen, by id: what a reply or a quote is built from.

    With ``senders``, who wrote each message is also stored there, for quoting messages
    the cache no longer holds.
    """

    def __init__(self, size: int = 2000, senders: SenderRecords | None = None) -> None:
        self.size = size
        self.senders = senders
        self._messages: OrderedDict[str, MessageEv] = OrderedDict()

    def add(self, message: MessageEv) -> None:
        self._messages[message.Info.ID] = message
        self._messages.move_to_end(message.Info.ID)
        while len(self._messages) > self.size:
            self._messages.popitem(last=False)
        source = message.Info.MessageSource
        if self.senders is not None and source.Sender.User:
            self.senders.record(jid_str(source.Chat), message.Info.ID, jid_str(source.Sender))

    def get(self, message_id: str) -> MessageEv | None:
        return self._messages.get(message_id)

    def sender_of(self, chat: JID, message_id: str) -> JID | None:
        """Who wrote a message the cache may have dropped (None: never seen here)."""
        if self.senders is None:
            return None
        sender = self.senders.sender_of(jid_str(chat), message_id)
        return to_jid(sender, "sender") if sender else None


@dataclass
class WhatsAppContext:
    client: NewAClient
    messages: MessageCache = field(default_factory=MessageCache)

    def quoted(self, message_id: str, chat: JID, sender: JID | None = None) -> MessageEv:
        """The message as neonize wants it for quoting: the cached original, or (older than
        the cache) a stub with its id, chat and sender, which WhatsApp shows as a quote too.
        The sender is the one given, else the stored one, else the chat (right in a DM)."""
        cached = self.messages.get(message_id)
        if cached is not None:
            return cached
        sender = sender or self.messages.sender_of(chat, message_id) or chat
        source = MessageSource(Chat=chat, Sender=sender, IsGroup=is_group(chat))
        return MessageEv(
            Info=MessageInfo(ID=message_id, MessageSource=source),
            Message=Message(conversation=""),
        )


actions: ActionRegistry[WhatsAppContext] = ActionRegistry("whatsapp_user")

_PHONE = re.compile(r"^\+?[\d\s().-]{5,}$")


def to_jid(value: str, field_name: str) -> JID:
    """``4915112345678@s.whatsapp.net``, ``…@g.us`` or a phone number with country code."""
    text = value.strip()
    if "@" in text:
        user, _, server = text.partition("@")
        if user and server:
            return build_jid(user, server)
    elif _PHONE.match(text):
        return build_jid(phone_digits(text, field_name))
    raise invalid(field_name, f"not a WhatsApp JID or phone number: {value!r}")


def phone_digits(value: str, field_name: str) -> str:
    """``+49 30 1234567`` → ``49301234567``: WhatsApp ids (JIDs, a vCard's waid) are digits."""
    if not _PHONE.match(value.strip()):
        raise invalid(field_name, f"not a phone number with country code: {value!r}")
    return re.sub(r"\D", "", value)


def is_group(jid: JID) -> bool:
    return bool(jid.Server == "g.us")


def jid_str(jid: JID) -> str:
    return str(Jid2String(JIDToNonAD(jid)))


def _sent(response: SendResponse) -> dict[str, Any]:
    return {"message_id": response.ID, "timestamp": response.Timestamp}


def _quote(ctx: WhatsAppContext, params: p.SendOptions, chat: JID) -> MessageEv | None:
    if not params.reply_to_message_id:
        return None
    return ctx.quoted(params.reply_to_message_id, chat)


def _quote_context(quoted: MessageEv) -> ContextInfo:
    """The ContextInfo WhatsApp reads a quote from (what neonize builds for its own senders)."""
    return ContextInfo(
        stanzaID=quoted.Info.ID,
        participant=jid_str(quoted.Info.MessageSource.Sender),
        quotedMessage=quoted.Message,
    )


# -- sending ----------------------------------------------------------------------------------


@actions.action(*node_action("wa_send_text"))
async def send_text(ctx: WhatsAppContext, params: p.SendTextParams) -> dict[str, Any]:
    chat = to_jid(params.chat_id, "chat_id")
    quoted = _quote(ctx, params, chat)
    if quoted is not None:
        response = await ctx.client.reply_message(
            params.text, quoted, to=chat, link_preview=params.link_preview
        )
    else:
        response = await ctx.client.send_message(
            chat, params.text, link_preview=params.link_preview
        )
    return _sent(response)


@actions.action(*node_action("wa_reply"))
async def reply(ctx: WhatsAppContext, params: p.ReplyParams) -> dict[str, Any]:
    chat = to_jid(params.chat_id, "chat_id")
    quoted = ctx.quoted(params.message_id, chat, to_jid(params.sender_id, "sender_id"))
    response = await ctx.client.reply_message(
        params.text,
        quoted,
        link_preview=params.link_preview,
        reply_privately=params.reply_privately,
    )
    return _sent(response)


@actions.action(*node_action("wa_send_image"))
async def send_image(ctx: WhatsAppContext, params: p.SendImageParams) -> dict[str, Any]:
    chat = to_jid(params.chat_id, "chat_id")
    response = await ctx.client.send_image(
        chat,
        http_url(params.file, "file"),
        caption=params.caption,
        quoted=_quote(ctx, params, chat),
        viewonce=params.viewonce,
    )
    return _sent(response)


# neonize runs these to probe and convert video and audio before sending.
MEDIA_TOOLS = ("ffmpeg", "ffprobe")


def require_media_tools(what: str) -> None:
    """Say plainly that the server lacks ffmpeg, instead of neonize's FileNotFoundError.

    ``platform``, not ``unavailable``: retrying cannot help and it must not open the
    instance's circuit breaker, which would stop its text messages too.
    """
    missing = [tool for tool in MEDIA_TOOLS if shutil.which(tool) is None]
    if missing:
        raise ActionError(
            ErrorKind.platform,
            f"Sending WhatsApp {what} needs ffmpeg on the Flowbot server, and "
            f"{' and '.join(missing)} is not installed: install the Debian package ffmpeg "
            "(sudo apt-get install ffmpeg, or run scripts/install.sh) and try again",
        )


@actions.action(*node_action("wa_send_video"))
async def send_video(ctx: WhatsAppContext, params: p.SendVideoParams) -> dict[str, Any]:
    chat = to_jid(params.chat_id, "chat_id")
    file = http_url(params.file, "file")
    require_media_tools("video")
    response = await ctx.client.send_video(
        chat,
        file,
        caption=params.caption,
        quoted=_quote(ctx, params, chat),
        viewonce=params.viewonce,
        gifplayback=params.gifplayback,
    )
    return _sent(response)


@actions.action(*node_action("wa_send_audio"))
async def send_audio(ctx: WhatsAppContext, params: p.SendAudioParams) -> dict[str, Any]:
    chat = to_jid(params.chat_id, "chat_id")
    file = http_url(params.file, "file")
    require_media_tools("audio")
    response = await ctx.client.send_audio(
        chat, file, ptt=params.ptt, quoted=_quote(ctx, params, chat)
    )
    return _sent(response)


@actions.action(*node_action("wa_send_document"))
async def send_document(ctx: WhatsAppContext, params: p.SendDocumentParams) -> dict[str, Any]:
    chat = to_jid(params.chat_id, "chat_id")
    response = await ctx.client.send_document(
        chat,
        http_url(params.file, "file"),
        caption=params.caption,
        title=params.title,
        filename=params.filename,
        mimetype=params.mimetype,
        quoted=_quote(ctx, params, chat),
    )
    return _sent(response)


@actions.action(*node_action("wa_send_location"))
async def send_location(ctx: WhatsAppContext, params: p.SendLocationParams) -> dict[str, Any]:
    chat = to_jid(params.chat_id, "chat_id")
    location = LocationMessage(
        degreesLatitude=params.latitude,
        degreesLongitude=params.longitude,
        name=params.name,
        address=params.address,
    )
    if (quoted := _quote(ctx, params, chat)) is not None:
        location.contextInfo.MergeFrom(_quote_context(quoted))
    return _sent(await ctx.client.send_message(chat, Message(locationMessage=location)))


@actions.action(*node_action("wa_send_contact"))
async def send_contact(ctx: WhatsAppContext, params: p.SendContactParams) -> dict[str, Any]:
    chat = to_jid(params.chat_id, "chat_id")
    response = await ctx.client.send_contact(
        chat,
        params.contact_name,
        phone_digits(params.contact_number, "contact_number"),
        quoted=_quote(ctx, params, chat),
    )
    return _sent(response)


@actions.action(*node_action("wa_send_poll"))
async def send_poll(ctx: WhatsAppContext, params: p.SendPollParams) -> dict[str, Any]:
    chat = to_jid(params.chat_id, "chat_id")
    poll = await ctx.client.build_poll_vote_creation(
        params.name,
        params.options,
        VoteType.MULTIPLE if params.multiple_answers else VoteType.SINGLE,
        quoted=_quote(ctx, params, chat),
    )
    return _sent(await ctx.client.send_message(chat, poll))


# -- changing messages ------------------------------------------------------------------------


@actions.action(*node_action("wa_send_reaction"))
async def send_reaction(ctx: WhatsAppContext, params: p.ReactionParams) -> dict[str, Any]:
    chat = to_jid(params.chat_id, "chat_id")
    reaction = await ctx.client.build_reaction(
        chat, to_jid(params.sender_id, "sender_id"), params.message_id, params.reaction
    )
    return _sent(await ctx.client.send_message(chat, reaction))


@actions.action(*node_action("wa_edit_message"))
async def edit_message(ctx: WhatsAppContext, params: p.EditMessageParams) -> dict[str, Any]:
    response = await ctx.client.edit_message(
        to_jid(params.chat_id, "chat_id"), params.message_id, Message(conversation=params.text)
    )
    return _sent(response)


@actions.action(*node_action("wa_revoke_message"))
async def revoke_message(ctx: WhatsAppContext, params: p.WhatsAppMessage) -> dict[str, Any]:
    response = await ctx.client.revoke_message(
        to_jid(params.chat_id, "chat_id"), to_jid(params.sender_id, "sender_id"), params.message_id
    )
    return _sent(response)


@actions.action(*node_action("wa_mark_read"))
async def mark_read(ctx: WhatsAppContext, params: p.MarkReadParams) -> dict[str, Any]:
    await ctx.client.mark_read(
        *params.message_ids,
        chat=to_jid(params.chat_id, "chat_id"),
        sender=to_jid(params.sender_id, "sender_id"),
        receipt=ReceiptType.PLAYED if params.receipt == "played" else ReceiptType.READ,
    )
    return {"ok": True, "message_ids": list(params.message_ids)}


@actions.action(*node_action("wa_send_presence"))
async def send_presence(ctx: WhatsAppContext, params: p.PresenceParams) -> dict[str, Any]:
    await ctx.client.send_chat_presence(
        to_jid(params.chat_id, "chat_id"),
        ChatPresence.CHAT_PRESENCE_COMPOSING
        if params.state == "composing"
        else ChatPresence.CHAT_PRESENCE_PAUSED,
        ChatPresenceMedia.CHAT_PRESENCE_MEDIA_AUDIO
        if params.media == "audio"
        else ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT,
    )
    return {"ok": True}


# -- groups -----------------------------------------------------------------------------------


@actions.action(*node_action("wa_create_group"))
async def create_group(ctx: WhatsAppContext, params: p.CreateGroupParams) -> dict[str, Any]:
    info = await ctx.client.create_group(
        params.name, participants=[to_jid(j, "participants") for j in params.participants]
    )
    return {"group_id": jid_str(info.JID), "name": info.GroupName.Name}


async def _participants(
    ctx: WhatsAppContext, params: p.Participants, change: ParticipantChange
) -> dict[str, Any]:
    changed = await ctx.client.update_group_participants(
        to_jid(params.group_id, "group_id"),
        [to_jid(j, "participants") for j in params.participants],
        change,
    )
    return {
        "participants": [
            {"id": jid_str(part.JID), "error": part.Error or None} for part in changed or []
        ]
    }


def _participant_action(node_id: str, change: ParticipantChange) -> None:
    async def handler(ctx: WhatsAppContext, params: p.Participants) -> dict[str, Any]:
        return await _participants(ctx, params, change)

    actions.action(*node_action(node_id))(handler)


_participant_action("wa_add_participants", ParticipantChange.ADD)
_participant_action("wa_remove_participants", ParticipantChange.REMOVE)
_participant_action("wa_promote_participants", ParticipantChange.PROMOTE)
_participant_action("wa_demote_participants", ParticipantChange.DEMOTE)


@actions.action(*node_action("wa_set_group_subject"))
async def set_group_subject(ctx: WhatsAppContext, params: p.GroupSubjectParams) -> dict[str, Any]:
    await ctx.client.set_group_name(to_jid(params.group_id, "group_id"), params.subject)
    return {"ok": True}


@actions.action(*node_action("wa_set_group_description"))
async def set_group_description(
    ctx: WhatsAppContext, params: p.GroupDescriptionParams
) -> dict[str, Any]:
    # Empty topic ids: whatsmeow looks the current one up and generates the new one.
    await ctx.client.set_group_topic(
        to_jid(params.group_id, "group_id"), "", "", params.description
    )
    return {"ok": True}


@actions.action(*node_action("wa_get_invite_link"))
async def get_invite_link(ctx: WhatsAppContext, params: p.InviteLinkParams) -> dict[str, Any]:
    link = await ctx.client.get_group_invite_link(
        to_jid(params.group_id, "group_id"), revoke=params.revoke
    )
    return {"invite_link": link}


@actions.action(*node_action("wa_leave_group"))
async def leave_group(ctx: WhatsAppContext, params: p.WhatsAppGroup) -> dict[str, Any]:
    await ctx.client.leave_group(to_jid(params.group_id, "group_id"))
    return {"ok": True}


# -- errors -----------------------------------------------------------------------------------


async def execute_action(
    ctx: WhatsAppContext, name: str, params: Mapping[str, Any]
) -> dict[str, Any]:
    """Run one action; neonize's errors (WhatsApp's refusals) come back as ActionError."""
    try:
        return await actions.execute(ctx, name, params)
    except NeonizeError as error:
        message = str(error) or type(error).__name__
        if "rate-overlimit" in message:
            kind = ErrorKind.rate_limited
        elif "not connected" in message or "not logged in" in message:
            kind = ErrorKind.unavailable
        else:
            kind = ErrorKind.platform
        raise ActionError(kind, f"WhatsApp: {type(error).__name__}: {message}") from error
