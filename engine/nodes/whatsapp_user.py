"""WhatsApp account actions (see NODES.md): each maps to a neonize client method.

Params mirror the method's parameters (``send_image(to, file, caption, quoted,
viewonce)``, ``update_group_participants(jid, changes, action)``...), with JIDs as
strings and a quoted message given by id: the connector looks the message up and
builds the protobuf neonize wants.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from engine.nodes.base import (
    ChatRef,
    ConnectionRef,
    NodeParams,
    NodePlatform,
    acting_instance_field,
)
from engine.nodes.registry import platform_action_declarer

# --- Shared params --------------------------------------------------------------------------


class WhatsAppParams(NodeParams):
    instance_id: ConnectionRef | None = acting_instance_field("WhatsApp account")


class WhatsAppChat(WhatsAppParams):
    chat_id: ChatRef = Field(
        default="{{trigger.chat.id}}",
        description="The chat's JID: number@s.whatsapp.net for a person, id@g.us for a group",
        examples=["{{trigger.chat.id}}", "4915112345678@s.whatsapp.net"],
    )


class FromSender(NodeParams):
    sender_id: str = Field(
        default="{{trigger.user.id}}",
        description="JID of whoever sent the message(s)",
        examples=["{{trigger.user.id}}"],
    )


class WhatsAppMessage(FromSender, WhatsAppChat):
    message_id: str = Field(
        default="{{trigger.message_id}}",
        description="The message it acts on",
        examples=["{{trigger.message_id}}"],
    )


class WhatsAppGroup(WhatsAppParams):
    group_id: ChatRef = Field(
        default="{{trigger.chat.id}}",
        description="The group's JID (ends in @g.us)",
        examples=["{{trigger.chat.id}}", "120363025246125486@g.us"],
    )


class Participants(WhatsAppGroup):
    participants: list[str] = Field(
        default_factory=lambda: ["{{trigger.user.id}}"],
        min_length=1,
        description="JIDs (or phone numbers with country code) of the people concerned",
        examples=[["{{trigger.user.id}}"], ["4915112345678@s.whatsapp.net"]],
    )


class SendOptions(WhatsAppChat):
    reply_to_message_id: str | None = Field(
        default=None,
        description="Quote this message above the new one",
        examples=[None, "{{trigger.message_id}}"],
    )


class TextBody(NodeParams):
    text: str = Field(
        min_length=1,
        max_length=65536,
        description="The message text (*bold*, _italic_, ~strike~ work)",
        examples=["Hi {{trigger.user.display_name}}, thanks for your message!"],
    )
    link_preview: bool = Field(
        default=False, description="Show a preview of the first link", examples=[True]
    )


def _file_field(kind: str, example: str) -> Any:
    return Field(description=f"The {kind}: an http(s) URL", examples=[example])


class Captioned(SendOptions):
    caption: str | None = Field(
        default=None, description="Text shown with the media", examples=["Our new opening hours"]
    )


class Viewable(Captioned):
    viewonce: bool = Field(
        default=False, description="The recipient can open it only once", examples=[False]
    )


# --- Declarations ---------------------------------------------------------------------------


_action = platform_action_declarer(NodePlatform.whatsapp_user, "wa_")


# Sending


class SendTextParams(TextBody, SendOptions):
    pass


class ReplyParams(TextBody, WhatsAppMessage):
    reply_privately: bool = Field(
        default=False,
        description="In a group, answer the sender in a private chat instead",
        examples=[False],
    )


class SendImageParams(Viewable):
    file: str = _file_field("picture", "https://example.org/menu.jpg")


class SendVideoParams(Viewable):
    file: str = _file_field("video", "https://example.org/tour.mp4")
    gifplayback: bool = Field(
        default=False, description="Play it silently in a loop, like a GIF", examples=[False]
    )


class SendAudioParams(SendOptions):
    file: str = _file_field("audio file", "https://example.org/message.ogg")
    ptt: bool = Field(
        default=False, description="Send it as a voice note (push to talk)", examples=[True]
    )


class SendDocumentParams(Captioned):
    file: str = _file_field("document", "https://example.org/price-list.pdf")
    filename: str | None = Field(
        default=None, description="File name the recipient sees", examples=["price-list.pdf"]
    )
    title: str | None = Field(default=None, description="Document title", examples=["Price list"])
    mimetype: str | None = Field(
        default=None,
        description="Its MIME type; empty: guessed from the file",
        examples=["application/pdf"],
    )


class SendLocationParams(SendOptions):
    latitude: float = Field(ge=-90, le=90, description="Latitude in degrees", examples=[52.52])
    longitude: float = Field(ge=-180, le=180, description="Longitude in degrees", examples=[13.405])
    name: str | None = Field(default=None, description="Name of the place", examples=["Our shop"])
    address: str | None = Field(
        default=None, description="Its address", examples=["Hauptstraße 1, Berlin"]
    )


class SendContactParams(SendOptions):
    contact_name: str = Field(
        min_length=1, description="The contact's name", examples=["Support desk"]
    )
    contact_number: str = Field(
        min_length=3,
        description="The phone number with country code",
        examples=["+49 30 1234567"],
    )


class SendPollParams(SendOptions):
    name: str = Field(min_length=1, description="The question", examples=["Which evening suits?"])
    options: list[str] = Field(
        min_length=2,
        max_length=12,
        description="The answers people choose from (2 to 12)",
        examples=[["Tuesday", "Thursday"]],
    )
    multiple_answers: bool = Field(
        default=False, description="Let people pick several answers", examples=[False]
    )


_action("wa_send_text", "Send message", "Sends a text message.", SendTextParams)
_action(
    "wa_reply", "Reply", "Replies to the message that started the flow, quoting it.", ReplyParams
)
_action(
    "wa_send_image", "Send picture", "Sends a picture, with an optional caption.", SendImageParams
)
_action("wa_send_video", "Send video", "Sends a video, with an optional caption.", SendVideoParams)
_action("wa_send_audio", "Send audio", "Sends an audio file or a voice note.", SendAudioParams)
_action("wa_send_document", "Send document", "Sends a file as a document.", SendDocumentParams)
_action("wa_send_location", "Send location", "Sends a point on the map.", SendLocationParams)
_action("wa_send_contact", "Send contact", "Sends a contact card.", SendContactParams)
_action("wa_send_poll", "Send poll", "Sends a poll people vote on.", SendPollParams)

# Changing messages


class ReactionParams(WhatsAppMessage):
    reaction: str = Field(
        default="👍", description="Emoji to react with; empty removes the reaction", examples=["👍"]
    )


class EditMessageParams(WhatsAppChat):
    message_id: str = Field(
        description="The account's own message to change (within 15 minutes of sending)",
        examples=["{{node.send_1.message_id}}"],
    )
    text: str = Field(min_length=1, description="The new text", examples=["Updated: see you at 7"])


class MarkReadParams(FromSender, WhatsAppChat):
    message_ids: list[str] = Field(
        default_factory=lambda: ["{{trigger.message_id}}"],
        min_length=1,
        description="The messages to mark",
        examples=[["{{trigger.message_id}}"]],
    )
    receipt: Literal["read", "played"] = Field(
        default="read", description="Read, or played for voice notes", examples=["read"]
    )


class PresenceParams(WhatsAppChat):
    state: Literal["composing", "paused"] = Field(
        default="composing", description="Start or stop showing activity", examples=["composing"]
    )
    media: Literal["text", "audio"] = Field(
        default="text", description="'typing…' or 'recording audio…'", examples=["text"]
    )


_action("wa_send_reaction", "React", "Adds an emoji reaction to a message.", ReactionParams)
_action("wa_edit_message", "Edit message", "Changes a message the account sent.", EditMessageParams)
_action(
    "wa_revoke_message",
    "Delete for everyone",
    "Deletes a message for everyone (group admins can delete others' messages).",
    WhatsAppMessage,
)
_action("wa_mark_read", "Mark as read", "Marks messages as read (blue ticks).", MarkReadParams)
_action(
    "wa_send_presence",
    "Show typing",
    "Shows 'typing…' or 'recording audio…' in the chat.",
    PresenceParams,
)

# Groups


class CreateGroupParams(WhatsAppParams):
    name: str = Field(
        min_length=1, max_length=100, description="Name of the new group", examples=["Book club"]
    )
    participants: list[str] = Field(
        default_factory=list,
        description="JIDs or phone numbers of the people to add",
        examples=[["{{trigger.user.id}}"]],
    )


class GroupSubjectParams(WhatsAppGroup):
    subject: str = Field(
        min_length=1, max_length=100, description="The new group name", examples=["Book club 2025"]
    )


class GroupDescriptionParams(WhatsAppGroup):
    description: str = Field(
        default="",
        max_length=2048,
        description="The new description; empty removes it",
        examples=["Monthly meetups, first Friday."],
    )


class InviteLinkParams(WhatsAppGroup):
    revoke: bool = Field(
        default=False,
        description="Make a new link and stop the old one from working",
        examples=[False],
    )


_action("wa_create_group", "Create group", "Creates a new group.", CreateGroupParams)
_action("wa_add_participants", "Add to group", "Adds people to a group.", Participants)
_action("wa_remove_participants", "Remove from group", "Removes people from a group.", Participants)
_action("wa_promote_participants", "Make group admin", "Makes people group admins.", Participants)
_action(
    "wa_demote_participants", "Remove group admin", "Takes group admin rights away.", Participants
)
_action("wa_set_group_subject", "Rename group", "Changes the group's name.", GroupSubjectParams)
_action(
    "wa_set_group_description",
    "Set group description",
    "Changes the group's description.",
    GroupDescriptionParams,
)
_action(
    "wa_get_invite_link",
    "Get invite link",
    "Gets the group's invite link for later steps.",
    InviteLinkParams,
)
_action("wa_leave_group", "Leave group", "Leaves the group.", WhatsAppGroup)
