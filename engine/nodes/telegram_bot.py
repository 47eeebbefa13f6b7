"""Telegram bot actions (see NODES.md): each maps to one aiogram ``Bot`` method.

Params mirror the method's own parameters, so the connector passes them through
after converting ids (typed ``str`` here because they may hold ``{{ }}``
expressions) and building the few objects Telegram wants (keyboards, reactions,
permissions). Durations are seconds from now; the connector turns them into
``until_date``/``expire_date``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from engine.nodes.base import (
    ChatRef,
    ConnectionRef,
    NodeParams,
    NodePlatform,
    acting_instance_field,
)
from engine.nodes.registry import platform_action_declarer

ParseMode = Literal["HTML", "MarkdownV2", "Markdown"]


def _parse_mode_field(what: str) -> Any:
    return Field(
        default=None,
        description=f"How to read formatting in the {what}; empty: plain text",
        examples=[None, "HTML"],
    )


# --- Shared params --------------------------------------------------------------------------


class TelegramBotParams(NodeParams):
    instance_id: ConnectionRef | None = acting_instance_field("Telegram bot")


class TelegramTarget(TelegramBotParams):
    chat_id: ChatRef = Field(
        default="{{trigger.chat.id}}",
        description="Chat id, or @username of a public channel or group",
        examples=["{{trigger.chat.id}}", "-1001234567890", "@flowbot_news"],
    )


class TelegramMessageTarget(TelegramTarget):
    message_id: str = Field(
        default="{{trigger.message_id}}",
        description="The message it acts on",
        examples=["{{trigger.message_id}}", "{{node.send_1.message_id}}"],
    )


class TelegramMemberTarget(TelegramTarget):
    user_id: str = Field(
        default="{{trigger.user.id}}",
        description="The member it acts on",
        examples=["{{trigger.user.id}}", "123456789"],
    )


class SendOptions(TelegramTarget):
    """What every send method accepts besides its content."""

    message_thread_id: str | None = Field(
        default=None,
        description="Topic of a forum group to send to; empty: the main topic",
        examples=[None, "{{trigger.data.message_thread_id}}"],
    )
    reply_to_message_id: str | None = Field(
        default=None,
        description="Send it as a reply to this message",
        examples=[None, "{{trigger.message_id}}"],
    )
    disable_notification: bool = Field(
        default=False, description="Deliver silently, without a notification sound", examples=[True]
    )
    protect_content: bool = Field(
        default=False, description="Forbid forwarding and saving the message", examples=[False]
    )


class TextMessage(SendOptions):
    text: str = Field(
        min_length=1,
        max_length=4096,
        description="The message text (up to 4096 characters)",
        examples=["Welcome, {{trigger.user.first_name}}!"],
    )
    parse_mode: ParseMode | None = _parse_mode_field("text")
    disable_web_page_preview: bool = Field(
        default=False, description="Do not show a preview of the first link", examples=[True]
    )


class CaptionedMedia(SendOptions):
    caption: str | None = Field(
        default=None,
        max_length=1024,
        description="Text shown under the media (up to 1024 characters)",
        examples=["Photo of the day"],
    )
    parse_mode: ParseMode | None = _parse_mode_field("caption")


class VisualMedia(CaptionedMedia):
    has_spoiler: bool = Field(default=False, description="Blur it until tapped", examples=[False])
    show_caption_above_media: bool = Field(
        default=False, description="Put the caption above the media", examples=[False]
    )


def _file_field(kind: str, example: str) -> Any:
    """A media field: a file id already on Telegram or an HTTP(S) URL Telegram fetches."""
    return Field(
        description=f"The {kind}: a Telegram file id or an http(s) URL",
        examples=["{{trigger.media.file_id}}", example],
    )


def _duration_field(what: str) -> Any:
    return Field(
        default=None,
        ge=30,
        le=366 * 86400,
        description=f"For how many seconds {what} (30 s to 366 days); empty: forever",
        examples=[None, 3600],
    )


class InlineButton(NodeParams):
    text: str = Field(min_length=1, description="Label on the button", examples=["Yes"])
    callback_data: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Sent back as {{trigger.data.callback_data}} when pressed (up to 64 bytes)",
        examples=["vote:yes"],
    )
    url: str | None = Field(
        default=None, description="Opens this link instead", examples=["https://example.org"]
    )

    @model_validator(mode="after")
    def _one_action(self) -> Self:
        if (self.callback_data is None) == (self.url is None):
            raise ValueError("a button needs exactly one of callback_data and url")
        return self


def _keyboard_field(required: bool) -> Any:
    return Field(
        default=... if required else None,
        min_length=1,
        description="Inline buttons under the message, row by row",
        examples=[
            [
                [
                    {"text": "Yes", "callback_data": "vote:yes"},
                    {"text": "No", "callback_data": "vote:no"},
                ]
            ]
        ],
    )


# --- Declarations ---------------------------------------------------------------------------


_action = platform_action_declarer(NodePlatform.telegram_bot, "tg_")


# Sending


class ReplyParams(TextMessage):
    reply_to_message_id: str | None = Field(
        default="{{trigger.message_id}}",
        description="The message to reply to",
        examples=["{{trigger.message_id}}"],
    )


class SendPhotoParams(VisualMedia):
    photo: str = _file_field("photo", "https://example.org/cat.jpg")


class SendDocumentParams(CaptionedMedia):
    document: str = _file_field("document", "https://example.org/rules.pdf")
    disable_content_type_detection: bool = Field(
        default=False,
        description="Send it as a file even if Telegram could show it as a photo or video",
        examples=[False],
    )


class SendVideoParams(VisualMedia):
    video: str = _file_field("video", "https://example.org/intro.mp4")
    duration: int | None = Field(
        default=None, ge=0, description="Length in seconds, if known", examples=[42]
    )
    supports_streaming: bool = Field(
        default=True, description="Let people start watching before it downloads", examples=[True]
    )


class SendVoiceParams(CaptionedMedia):
    voice: str = _file_field("voice message (OGG/Opus)", "https://example.org/hello.ogg")
    duration: int | None = Field(
        default=None, ge=0, description="Length in seconds, if known", examples=[12]
    )


class SendStickerParams(SendOptions):
    sticker: str = _file_field("sticker (WEBP, TGS or WEBM)", "https://example.org/hi.webp")
    emoji: str | None = Field(
        default=None, description="Emoji the sticker stands for (new uploads)", examples=["👋"]
    )


class SendPollParams(SendOptions):
    question: str = Field(
        min_length=1, max_length=300, description="The question", examples=["Meetup day?"]
    )
    options: list[str] = Field(
        min_length=2,
        max_length=12,
        description="The answers people choose from (2 to 12)",
        examples=[["Saturday", "Sunday"]],
    )
    is_anonymous: bool = Field(default=True, description="Hide who voted for what", examples=[True])
    type: Literal["regular", "quiz"] = Field(
        default="regular", description="A quiz has one correct answer", examples=["regular"]
    )
    allows_multiple_answers: bool = Field(
        default=False,
        description="Let people pick several answers (needed by a quiz with several right ones)",
        examples=[False],
    )
    correct_option_ids: list[Annotated[int, Field(ge=0)]] | None = Field(
        default=None,
        description="Quiz only: positions of the right answers, from 0",
        examples=[None, [0]],
    )
    explanation: str | None = Field(
        default=None,
        max_length=200,
        description="Quiz only: shown after a wrong answer",
        examples=["Saturday suits most people."],
    )
    open_period: int | None = Field(
        default=None, ge=5, le=600, description="Close it after this many seconds", examples=[300]
    )

    @model_validator(mode="before")
    @classmethod
    def _single_correct_option(cls, data: Any) -> Any:
        """Flows saved before Bot API 9.6 name one ``correct_option_id`` (deprecated there):
        it becomes the list, unless the list is given too."""
        if isinstance(data, dict) and "correct_option_id" in data:
            data = dict(data)
            single = data.pop("correct_option_id")
            if single is not None and not data.get("correct_option_ids"):
                data["correct_option_ids"] = [single]
        return data

    @model_validator(mode="after")
    def _quiz_has_answer(self) -> Self:
        if self.type != "quiz":
            return self
        right = sorted(set(self.correct_option_ids or ()))  # the API wants them increasing
        if not right or right[-1] >= len(self.options):
            raise ValueError("a quiz needs correct_option_ids, the positions of its right options")
        if len(right) > 1 and not self.allows_multiple_answers:
            raise ValueError("a quiz with several right answers needs allows_multiple_answers")
        self.correct_option_ids = right
        return self


class SendLocationParams(SendOptions):
    latitude: float = Field(ge=-90, le=90, description="Latitude in degrees", examples=[52.52])
    longitude: float = Field(ge=-180, le=180, description="Longitude in degrees", examples=[13.405])
    horizontal_accuracy: float | None = Field(
        default=None, ge=0, le=1500, description="Uncertainty radius in metres", examples=[50]
    )
    live_period: int | None = Field(
        default=None,
        ge=60,
        le=86400,
        description="Share a live location for this many seconds",
        examples=[900],
    )


class SendButtonsParams(TextMessage):
    buttons: list[list[InlineButton]] = _keyboard_field(required=True)


_action("tg_send_message", "Send message", "Sends a text message to a chat.", TextMessage)
_action("tg_reply", "Reply", "Replies to the message that started the flow.", ReplyParams)
_action(
    "tg_send_photo", "Send photo", "Sends a picture, with an optional caption.", SendPhotoParams
)
_action("tg_send_document", "Send file", "Sends any file as a document.", SendDocumentParams)
_action("tg_send_video", "Send video", "Sends a video, with an optional caption.", SendVideoParams)
_action("tg_send_voice", "Send voice message", "Sends a voice message.", SendVoiceParams)
_action("tg_send_sticker", "Send sticker", "Sends a sticker.", SendStickerParams)
_action("tg_send_poll", "Send poll", "Sends a poll or a quiz.", SendPollParams)
_action("tg_send_location", "Send location", "Sends a point on the map.", SendLocationParams)
_action(
    "tg_send_buttons",
    "Send buttons",
    "Sends a message with buttons under it; pressing one can start another flow.",
    SendButtonsParams,
)

# Changing messages


class EditMessageParams(TelegramMessageTarget):
    text: str = Field(
        min_length=1, max_length=4096, description="The new text", examples=["Thanks for voting!"]
    )
    parse_mode: ParseMode | None = _parse_mode_field("text")
    buttons: list[list[InlineButton]] | None = _keyboard_field(required=False)


class ForwardParams(TelegramBotParams):
    chat_id: ChatRef = Field(
        description="Where to send it: chat id or @username",
        examples=["-1001234567890", "@flowbot_archive"],
    )
    from_chat_id: ChatRef = Field(
        default="{{trigger.chat.id}}",
        description="The chat the message is in",
        examples=["{{trigger.chat.id}}"],
    )
    message_id: str = Field(
        default="{{trigger.message_id}}",
        description="The message to send on",
        examples=["{{trigger.message_id}}"],
    )
    message_thread_id: str | None = Field(
        default=None, description="Topic of a forum group to send to", examples=[None]
    )
    disable_notification: bool = Field(
        default=False,
        description="Deliver silently, without a notification sound",
        examples=[False],
    )
    protect_content: bool = Field(
        default=False, description="Forbid forwarding and saving the copy", examples=[False]
    )


class CopyParams(ForwardParams):
    caption: str | None = Field(
        default=None,
        max_length=1024,
        description="New caption for media; empty: keep the original",
        examples=[None, "Shared from the community"],
    )
    parse_mode: ParseMode | None = _parse_mode_field("caption")


class PinParams(TelegramMessageTarget):
    disable_notification: bool = Field(
        default=False, description="Pin without notifying the members", examples=[True]
    )


class UnpinParams(TelegramTarget):
    message_id: str | None = Field(
        default=None,
        description="The message to unpin; empty: the most recently pinned one",
        examples=[None, "{{trigger.message_id}}"],
    )


class AnswerCallbackParams(TelegramBotParams):
    callback_query_id: str = Field(
        default="{{trigger.data.callback_query_id}}",
        description="The button press to answer (from a button-pressed trigger)",
        examples=["{{trigger.data.callback_query_id}}"],
    )
    text: str | None = Field(
        default=None,
        max_length=200,
        description="Short notice shown to the person who pressed; empty: none",
        examples=["Vote counted!"],
    )
    show_alert: bool = Field(
        default=False,
        description="Show the notice as a dialog instead of a toast",
        examples=[False],
    )
    url: str | None = Field(
        default=None, description="Open this URL (games and t.me links only)", examples=[None]
    )
    cache_time: int = Field(
        default=0, ge=0, description="Seconds Telegram may cache the answer", examples=[0]
    )


class SetReactionParams(TelegramMessageTarget):
    reaction: list[str] = Field(
        default_factory=lambda: ["👍"],
        description="Emoji to react with; an empty list removes the bot's reaction",
        examples=[["👍"], ["🔥"]],
    )
    is_big: bool = Field(default=False, description="Play the big animation", examples=[False])


_action(
    "tg_edit_message",
    "Edit message",
    "Changes the text (and buttons) of a message the bot sent.",
    EditMessageParams,
)
_action(
    "tg_delete_message", "Delete message", "Deletes a message from a chat.", TelegramMessageTarget
)
_action(
    "tg_forward_message",
    "Forward message",
    "Forwards a message to another chat, showing where it came from.",
    ForwardParams,
)
_action(
    "tg_copy_message",
    "Copy message",
    "Sends a copy of a message to another chat, without the link to the original.",
    CopyParams,
)
_action("tg_pin_message", "Pin message", "Pins a message at the top of the chat.", PinParams)
_action("tg_unpin_message", "Unpin message", "Removes a pinned message from the top.", UnpinParams)
_action(
    "tg_answer_callback",
    "Answer button press",
    "Confirms a button press, optionally showing a short notice to the person.",
    AnswerCallbackParams,
)
_action(
    "tg_set_reaction", "React", "Adds the bot's emoji reaction to a message.", SetReactionParams
)

# Members


class BanParams(TelegramMemberTarget):
    duration_seconds: int | None = _duration_field("the ban lasts")
    revoke_messages: bool = Field(
        default=False, description="Also delete all their messages in the group", examples=[True]
    )


class UnbanParams(TelegramMemberTarget):
    only_if_banned: bool = Field(
        default=True,
        description="Do nothing unless they are banned (otherwise they are removed too)",
        examples=[True],
    )


class MuteParams(TelegramMemberTarget):
    duration_seconds: int | None = _duration_field("they stay muted")


def _right(default: bool, what: str) -> Any:
    return Field(default=default, description=f"May {what}", examples=[default])


class PromoteParams(TelegramMemberTarget):
    """Defaults make a moderator: delete, restrict, pin and invite, nothing more."""

    is_anonymous: bool = Field(
        default=False, description="Hide their name when they post as admin", examples=[False]
    )
    can_manage_chat: bool = _right(False, "see the event log, statistics and members")
    can_delete_messages: bool = _right(True, "delete other people's messages")
    can_manage_video_chats: bool = _right(False, "manage video chats")
    can_restrict_members: bool = _right(True, "ban and mute members")
    can_promote_members: bool = _right(False, "add admins with their own rights or fewer")
    can_change_info: bool = _right(False, "change the title, photo and description")
    can_invite_users: bool = _right(True, "invite people")
    can_pin_messages: bool = _right(True, "pin messages")
    can_post_messages: bool = _right(False, "post in the channel (channels only)")
    can_edit_messages: bool = _right(False, "edit others' posts (channels only)")
    can_manage_topics: bool = _right(False, "manage forum topics")


_action(
    "tg_ban_member",
    "Ban member",
    "Removes someone from the group and stops them from coming back, for a time or forever.",
    BanParams,
)
_action(
    "tg_unban_member", "Unban member", "Lets a banned person join the group again.", UnbanParams
)
_action(
    "tg_mute_member",
    "Mute member",
    "Stops someone from writing in the group, for a time or forever.",
    MuteParams,
)
_action(
    "tg_unmute_member", "Unmute member", "Lets a muted person write again.", TelegramMemberTarget
)
_action(
    "tg_promote_member",
    "Make admin",
    "Makes someone an admin with the rights you choose.",
    PromoteParams,
)
_action(
    "tg_approve_join_request",
    "Approve join request",
    "Lets someone who asked to join in.",
    TelegramMemberTarget,
)
_action(
    "tg_decline_join_request",
    "Decline join request",
    "Turns down someone who asked to join.",
    TelegramMemberTarget,
)

# The chat


class ChatTitleParams(TelegramTarget):
    title: str = Field(
        min_length=1, max_length=128, description="The new title", examples=["Flowbot Community"]
    )


class ChatDescriptionParams(TelegramTarget):
    description: str = Field(
        default="",
        max_length=255,
        description="The new description; empty removes it",
        examples=["Be kind. No spam."],
    )


class InviteLinkParams(TelegramTarget):
    name: str | None = Field(
        default=None, max_length=32, description="A name only admins see", examples=["Spring promo"]
    )
    expire_seconds: int | None = Field(
        default=None,
        ge=1,
        description="The link stops working after this many seconds",
        examples=[86400],
    )
    member_limit: int | None = Field(
        default=None, ge=1, le=99999, description="How many people may join with it", examples=[50]
    )
    creates_join_request: bool = Field(
        default=False, description="People using it must be approved by an admin", examples=[False]
    )

    @model_validator(mode="after")
    def _limit_or_request(self) -> Self:
        if self.creates_join_request and self.member_limit is not None:
            raise ValueError("a link that needs approval cannot have a member limit")
        return self


# aiogram.enums.ChatAction
ChatAction = Literal[
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
]


class ChatActionParams(TelegramTarget):
    action: ChatAction = Field(
        default="typing", description="What the bot appears to be doing", examples=["typing"]
    )
    message_thread_id: str | None = Field(
        default=None, description="Topic of a forum group it shows in", examples=[None]
    )


_action("tg_set_chat_title", "Set chat title", "Renames the group or channel.", ChatTitleParams)
_action(
    "tg_set_chat_description",
    "Set chat description",
    "Changes the description of the group or channel.",
    ChatDescriptionParams,
)
_action(
    "tg_create_invite_link",
    "Create invite link",
    "Creates a new invite link, optionally limited in time or number of people.",
    InviteLinkParams,
)
_action(
    "tg_send_chat_action",
    "Show typing",
    "Shows 'typing…' (or 'sending photo…') in the chat for a few seconds.",
    ChatActionParams,
)
