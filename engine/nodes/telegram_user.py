"""Telegram user-account actions (see NODES.md): each maps to a pyrogram ``Client`` method.

A user account can do what a bot cannot (join chats, read history, search,
create groups), so several of these return data for later nodes rather than
only acting. Params mirror the method's parameters; ids are ``str`` because they
may hold ``{{ }}`` expressions, and the connector converts them.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, model_validator

from engine.nodes.base import (
    ChatRef,
    ConnectionRef,
    NodeParams,
    NodePlatform,
    acting_instance_field,
)
from engine.nodes.registry import platform_action_declarer

# pyrogram.enums.ParseMode, lowercased; "default" reads both Markdown and HTML.
ParseMode = Literal["default", "markdown", "html", "disabled"]
MediaType = Literal["photo", "video", "document", "audio", "voice", "animation", "sticker"]


def _parse_mode_field() -> Any:
    return Field(
        default="default",
        description="How to read formatting: Markdown and HTML, one of them, or none",
        examples=["default", "html"],
    )


# --- Shared params --------------------------------------------------------------------------


class TelegramUserParams(NodeParams):
    instance_id: ConnectionRef | None = acting_instance_field("Telegram account")


class AccountChat(TelegramUserParams):
    chat_id: ChatRef = Field(
        default="{{trigger.chat.id}}",
        description="Chat id, @username, or 'me' for Saved Messages",
        examples=["{{trigger.chat.id}}", "@flowbot_news", "me"],
    )


class AccountMessage(AccountChat):
    message_id: str = Field(
        default="{{trigger.message_id}}",
        description="The message it acts on",
        examples=["{{trigger.message_id}}"],
    )


class AccountMessages(AccountChat):
    message_ids: list[str] = Field(
        default_factory=lambda: ["{{trigger.message_id}}"],
        min_length=1,
        description="The messages it acts on",
        examples=[["{{trigger.message_id}}"], ["101", "102"]],
    )


class SendText(AccountChat):
    text: str = Field(
        min_length=1,
        max_length=4096,
        description="The message text (up to 4096 characters)",
        examples=["Thanks, I'll get back to you soon."],
    )
    parse_mode: ParseMode = _parse_mode_field()
    reply_to_message_id: str | None = Field(
        default=None,
        description="Send it as a reply to this message",
        examples=[None, "{{trigger.message_id}}"],
    )
    disable_notification: bool = Field(
        default=False, description="Deliver silently, without a notification sound", examples=[True]
    )
    disable_web_page_preview: bool = Field(
        default=False, description="Do not show a preview of the first link", examples=[False]
    )


def _limit_field(default: int, what: str) -> Any:
    """How many items a read returns; capped so one node cannot page through a huge chat."""
    return Field(
        default=default, ge=1, le=1000, description=f"At most this many {what}", examples=[default]
    )


# --- Declarations ---------------------------------------------------------------------------


_action = platform_action_declarer(NodePlatform.telegram_user, "tgu_")


# Messages


class ReplyParams(SendText):
    reply_to_message_id: str | None = Field(
        default="{{trigger.message_id}}",
        description="The message to reply to",
        examples=["{{trigger.message_id}}"],
    )


class SendMediaParams(AccountChat):
    media_type: MediaType = Field(
        default="photo",
        description="What kind of media it is (picks send_photo, send_video, ...)",
        examples=["photo", "document"],
    )
    media: str = Field(
        description="The media: a Telegram file id or an http(s) URL",
        examples=["{{trigger.media.file_id}}", "https://example.org/cat.jpg"],
    )
    caption: str = Field(
        default="",
        max_length=1024,
        description="Text shown under the media",
        examples=["Photo of the day"],
    )
    parse_mode: ParseMode = _parse_mode_field()
    file_name: str | None = Field(
        default=None, description="File name shown for documents and audio", examples=["rules.pdf"]
    )
    reply_to_message_id: str | None = Field(
        default=None, description="Send it as a reply to this message", examples=[None]
    )


class ForwardMessagesParams(AccountMessages):
    chat_id: ChatRef = Field(
        description="Where to forward them: chat id, @username or 'me'",
        examples=["me", "@flowbot_archive"],
    )
    from_chat_id: ChatRef = Field(
        default="{{trigger.chat.id}}",
        description="The chat the messages are in",
        examples=["{{trigger.chat.id}}"],
    )
    hide_sender_name: bool = Field(
        default=False, description="Forward without showing who wrote them", examples=[False]
    )
    disable_notification: bool = Field(
        default=False, description="Deliver silently", examples=[False]
    )


class EditMessageParams(AccountChat):
    message_id: str = Field(
        description="The account's own message to change",
        examples=["{{node.send_1.message_id}}"],
    )
    text: str = Field(
        min_length=1,
        max_length=4096,
        description="The new text",
        examples=["Updated: see you at 7"],
    )
    parse_mode: ParseMode = _parse_mode_field()
    disable_web_page_preview: bool = Field(
        default=False, description="Do not show a preview of the first link", examples=[False]
    )


class DeleteMessagesParams(AccountMessages):
    revoke: bool = Field(
        default=True,
        description="Delete them for everyone, not only for this account",
        examples=[True],
    )


class ReadHistoryParams(AccountChat):
    max_id: str | None = Field(
        default=None,
        description="Mark messages up to this one as read; empty: all of them",
        examples=[None, "{{trigger.message_id}}"],
    )


class SendReactionParams(AccountMessage):
    emoji: str | None = Field(
        default="👍", description="Emoji to react with; empty removes the reaction", examples=["👍"]
    )
    big: bool = Field(default=False, description="Play the big animation", examples=[False])


class PinParams(AccountMessage):
    disable_notification: bool = Field(
        default=False, description="Pin without notifying the members", examples=[True]
    )
    both_sides: bool = Field(
        default=False,
        description="In private chats, pin it for the other person too",
        examples=[False],
    )


_action("tgu_send_message", "Send message", "Sends a text message from the account.", SendText)
_action(
    "tgu_reply",
    "Reply",
    "Replies from the account to the message that started the flow.",
    ReplyParams,
)
_action(
    "tgu_send_media",
    "Send media",
    "Sends a photo, video, file, audio, voice message or sticker.",
    SendMediaParams,
)
_action(
    "tgu_forward_messages",
    "Forward messages",
    "Forwards one or more messages to another chat.",
    ForwardMessagesParams,
)
_action(
    "tgu_edit_message",
    "Edit message",
    "Changes the text of a message the account sent.",
    EditMessageParams,
)
_action(
    "tgu_delete_messages",
    "Delete messages",
    "Deletes one or more messages.",
    DeleteMessagesParams,
)
_action(
    "tgu_read_history", "Mark as read", "Marks the messages of a chat as read.", ReadHistoryParams
)
_action(
    "tgu_send_reaction",
    "React",
    "Adds the account's emoji reaction to a message.",
    SendReactionParams,
)
_action("tgu_pin_message", "Pin message", "Pins a message at the top of the chat.", PinParams)

# Chats and members


class JoinChatParams(TelegramUserParams):
    chat_id: ChatRef = Field(
        description="The chat to join: @username, invite link or id",
        examples=["@flowbot_community", "https://t.me/+AbCdEfGhIjK"],
    )


class LeaveChatParams(AccountChat):
    delete: bool = Field(
        default=False, description="Also delete the chat from the account's list", examples=[False]
    )


class CreateGroupParams(TelegramUserParams):
    title: str = Field(
        min_length=1, max_length=128, description="Name of the new group", examples=["Support"]
    )
    users: list[str] = Field(
        min_length=1,
        description="People to add: user ids or @usernames (a group needs at least one)",
        examples=[["{{trigger.user.id}}"], ["@ada_l", "@charles_b"]],
    )


class AddMembersParams(AccountChat):
    user_ids: list[str] = Field(
        default_factory=lambda: ["{{trigger.user.id}}"],
        min_length=1,
        description="People to add: user ids or @usernames",
        examples=[["{{trigger.user.id}}"], ["@ada_l"]],
    )
    forward_limit: int = Field(
        default=100,
        ge=0,
        le=100,
        description="How many earlier messages they may see (basic groups only)",
        examples=[100],
    )


class KickMemberParams(AccountChat):
    user_id: str = Field(
        default="{{trigger.user.id}}",
        description="The member to remove",
        examples=["{{trigger.user.id}}"],
    )
    ban: bool = Field(
        default=False,
        description="Keep them banned instead of letting them rejoin",
        examples=[False],
    )
    revoke_messages: bool = Field(
        default=False, description="Also delete their messages", examples=[False]
    )


class GetMembersParams(AccountChat):
    query: str = Field(
        default="", description="Only members whose name matches this", examples=["", "ada"]
    )
    filter: Literal["search", "recent", "administrators", "bots", "restricted", "banned"] = Field(
        default="recent", description="Which members to list", examples=["administrators"]
    )
    limit: int = _limit_field(200, "members")


_action("tgu_join_chat", "Join chat", "Joins a group or channel with the account.", JoinChatParams)
_action("tgu_leave_chat", "Leave chat", "Leaves a group or channel.", LeaveChatParams)
_action(
    "tgu_create_group",
    "Create group",
    "Creates a new group with the people you list.",
    CreateGroupParams,
)
_action("tgu_add_members", "Add members", "Adds people to a group.", AddMembersParams)
_action(
    "tgu_kick_member",
    "Remove member",
    "Removes someone from a group, optionally banning them.",
    KickMemberParams,
)
_action(
    "tgu_get_members",
    "List members",
    "Gets the members of a group for later steps.",
    GetMembersParams,
)

# Reading


class GetHistoryParams(AccountChat):
    limit: int = _limit_field(50, "messages, newest first")
    offset_id: str | None = Field(
        default=None,
        description="Start with the messages before this one; empty: the newest",
        examples=[None, "4521"],
    )


class SearchMessagesParams(AccountChat):
    query: str = Field(default="", description="Text to look for", examples=["invoice"])
    filter: Literal[
        "empty", "photo", "video", "document", "url", "voice_note", "audio", "mention", "pinned"
    ] = Field(
        default="empty",
        description="Only this kind of message; 'empty' means any",
        examples=["empty", "document"],
    )
    from_user: str | None = Field(
        default=None, description="Only messages by this user", examples=[None, "@ada_l"]
    )
    limit: int = _limit_field(50, "messages")


class GetDialogsParams(TelegramUserParams):
    limit: int = _limit_field(100, "chats")
    exclude_pinned: bool = Field(
        default=False, description="Leave out pinned chats", examples=[False]
    )
    from_archive: bool = Field(
        default=False, description="List the archived chats instead", examples=[False]
    )


class UpdateProfileParams(TelegramUserParams):
    first_name: str | None = Field(
        default=None,
        max_length=64,
        description="New first name; empty: unchanged",
        examples=["Ada"],
    )
    last_name: str | None = Field(
        default=None,
        max_length=64,
        description="New last name; empty: unchanged",
        examples=["Lovelace"],
    )
    bio: str | None = Field(
        default=None,
        max_length=70,
        description="New bio; empty: unchanged",
        examples=["Community manager"],
    )

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if self.first_name is None and self.last_name is None and self.bio is None:
            raise ValueError("set at least one of first_name, last_name and bio")
        return self


_action(
    "tgu_get_history",
    "Read chat history",
    "Gets the latest messages of a chat for later steps.",
    GetHistoryParams,
)
_action(
    "tgu_search_messages",
    "Search messages",
    "Finds messages in a chat by text or kind.",
    SearchMessagesParams,
)
_action(
    "tgu_get_dialogs", "List chats", "Gets the account's chats for later steps.", GetDialogsParams
)
_action(
    "tgu_update_profile",
    "Update profile",
    "Changes the account's name or bio.",
    UpdateProfileParams,
)
