"""The schema of one bot's configuration, stored as a JSON document per draft and version.

One document rather than rows per command or button: a version is then an exact, cheap
snapshot that can be diffed and rolled back, and the connector loads one value to answer.
Texts shown to members are ``Localized``: language code → text, the bot's default language
being the one every other falls back to.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Localized = dict[str, str]
# Keys of responses and menus, the names buttons and commands point at.
Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,32}$")]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
KEY_RULE = "1–32 characters: lower-case letters, digits, _ and -"


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=False)


class ActionKind(StrEnum):
    """What a command or button does."""

    response = "response"  # send one of the bot's responses (target: its key)
    menu = "menu"  # open a menu (target: its key); from a menu, edits the message in place
    flow = "flow"  # start a flow with the event as its trigger (target: the flow id)
    url = "url"  # buttons only: open a web address (target: the URL)


class BotAction(_Part):
    kind: ActionKind = ActionKind.response
    target: str = ""


class ScopeKind(StrEnum):
    """Where a command is offered: Telegram's command scopes and Discord's registration."""

    all = "all"  # Telegram default scope, Discord global
    private = "private"  # Telegram: all private chats
    groups = "groups"  # Telegram: all group chats
    group_admins = "group_admins"  # Telegram: administrators of all groups
    chat = "chat"  # Telegram: one chat (target_id: its chat id)
    guild = "guild"  # Discord: one server (target_id: the guild id)


class CommandScope(_Part):
    kind: ScopeKind = ScopeKind.all
    target_id: str = ""


class OptionType(StrEnum):
    """Discord slash-command option types Flowbot offers."""

    string = "string"
    integer = "integer"
    number = "number"
    boolean = "boolean"
    user = "user"
    channel = "channel"
    role = "role"


class OptionChoice(_Part):
    name: Localized = Field(default_factory=dict)
    value: str


class CommandOption(_Part):
    name: str
    description: Localized = Field(default_factory=dict)
    type: OptionType = OptionType.string
    required: bool = False
    choices: list[OptionChoice] = Field(default_factory=list)


class Command(_Part):
    """A slash command; ``name`` is without the slash."""

    name: str
    description: Localized = Field(default_factory=dict)
    scope: CommandScope = Field(default_factory=CommandScope)
    options: list[CommandOption] = Field(default_factory=list)
    enabled: bool = True
    action: BotAction = Field(default_factory=BotAction)


class Button(_Part):
    label: Localized = Field(default_factory=dict)
    action: BotAction = Field(default_factory=BotAction)


ButtonRows = list[list[Button]]


class TriggerKind(StrEnum):
    command = "command"  # value: a command name without the slash
    keyword = "keyword"  # value: a word or phrase found in the message (any case)
    regex = "regex"  # value: a Python regular expression searched in the message
    button = "button"  # value: the callback data / custom id of a button a flow sent


class ResponseTrigger(_Part):
    kind: TriggerKind = TriggerKind.keyword
    value: str


class ReplyMode(StrEnum):
    reply = "reply"  # answer in the chat, quoting the message
    chat = "chat"  # answer in the chat without quoting
    thread = "thread"  # in a thread on the message (Discord) / the message's topic (Telegram)
    dm = "dm"  # privately to the member


class MediaKind(StrEnum):
    photo = "photo"
    video = "video"
    document = "document"


class Media(_Part):
    kind: MediaKind = MediaKind.photo
    url: str


class Response(_Part):
    """A canned answer; ``text`` is Flowbot markdown with {{ }} expressions."""

    key: Key
    triggers: list[ResponseTrigger] = Field(default_factory=list)
    text: Localized = Field(default_factory=dict)
    media: Media | None = None
    buttons: ButtonRows = Field(default_factory=list)
    reply_mode: ReplyMode = ReplyMode.reply
    delete_after_seconds: int | None = Field(default=None, ge=1, le=172_800)
    enabled: bool = True


class Menu(_Part):
    """Buttons under a text; menus opened from a menu get a Back button to it."""

    key: Key
    title: Localized = Field(default_factory=dict)
    rows: ButtonRows = Field(default_factory=list)


class BotScope(_Part):
    """Where the bot answers at all: everywhere, or only these communities and chats."""

    everywhere: bool = True
    community_ids: list[int] = Field(default_factory=list)
    chat_ids: list[str] = Field(default_factory=list)
    private_chats: bool = True


class BotConfigDocument(_Part):
    default_language: Language = "en"
    languages: list[Language] = Field(default_factory=lambda: ["en"])
    commands: list[Command] = Field(default_factory=list)
    responses: list[Response] = Field(default_factory=list)
    menus: list[Menu] = Field(default_factory=list)
    # Named texts responses and menus read as {{ strings.<name> }}, per language.
    strings: dict[str, Localized] = Field(default_factory=dict)
    scope: BotScope = Field(default_factory=BotScope)

    def response(self, key: str) -> Response | None:
        return next((r for r in self.responses if r.key == key), None)

    def menu(self, key: str) -> Menu | None:
        return next((m for m in self.menus if m.key == key), None)

    def command(self, name: str) -> Command | None:
        wanted = normalize_command(name)
        return next((c for c in self.commands if normalize_command(c.name) == wanted), None)


def normalize_command(name: str) -> str:
    """``/Help@my_bot`` → ``help``: how platforms and admins may spell one command."""
    return name.strip().lstrip("/").split("@", 1)[0].lower()


# Command names each platform accepts (Telegram: 1–32 of a-z 0-9 _; Discord: 1–32 of
# lower-case word characters and -).
COMMAND_NAME_RULES = {
    "telegram": (re.compile(r"^[a-z0-9_]{1,32}$"), "1–32 characters: a-z, 0-9 and _"),
    "discord": (re.compile(r"^[-_\w]{1,32}$"), "1–32 lower-case characters, digits, - and _"),
}
