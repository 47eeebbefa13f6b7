"""The REST endpoints of the fake Discord and the little state they keep (guilds, channels,
messages, commands) so that answers stay consistent with what a test set up or sent before.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.fakes import discord_objects as dc

if TYPE_CHECKING:
    from tests.fakes.discord import DiscordCall

Json = dict[str, Any]
Handler = Callable[["DiscordCall"], Any]
ADMINISTRATOR = 1 << 3

DEFAULT_GUILD_ID = "900000000000000001"
DEFAULT_CHANNEL_ID = "900000000000000010"
DEFAULT_USER_ID = "900000000000000100"

# Method, route template (Discord's names for the path parameters), implementation.
# More specific templates come first: the first match wins.
_ROUTES: list[tuple[str, str, str]] = [
    ("GET", "/users/@me", "_my_user"),
    ("GET", "/users/@me/guilds", "_my_guilds"),
    ("POST", "/users/@me/channels", "_create_dm"),
    ("GET", "/users/{user}", "_get_user"),
    ("GET", "/applications/@me", "_my_application"),
    ("GET", "/oauth2/applications/@me", "_my_application"),
    ("GET", "/gateway/bot", "_gateway_bot"),
    ("GET", "/gateway", "_gateway"),
    ("POST", "/channels/{channel}/messages/bulk-delete", "_no_content"),
    ("PUT", "/channels/{channel}/messages/pins/{message}", "_no_content"),
    ("DELETE", "/channels/{channel}/messages/pins/{message}", "_no_content"),
    ("PUT", "/channels/{channel}/messages/{message}/reactions/{emoji}/@me", "_no_content"),
    ("DELETE", "/channels/{channel}/messages/{message}/reactions/{emoji}/@me", "_no_content"),
    ("DELETE", "/channels/{channel}/messages/{message}/reactions/{emoji}/{user}", "_no_content"),
    ("DELETE", "/channels/{channel}/messages/{message}/reactions/{emoji}", "_no_content"),
    ("DELETE", "/channels/{channel}/messages/{message}/reactions", "_no_content"),
    ("POST", "/channels/{channel}/messages/{message}/threads", "_thread_from_message"),
    ("POST", "/channels/{channel}/threads", "_thread"),
    ("POST", "/channels/{channel}/messages", "_create_message"),
    ("GET", "/channels/{channel}/messages/{message}", "_get_message"),
    ("PATCH", "/channels/{channel}/messages/{message}", "_edit_message"),
    ("DELETE", "/channels/{channel}/messages/{message}", "_delete_message"),
    ("POST", "/channels/{channel}/typing", "_no_content"),
    ("POST", "/channels/{channel}/invites", "_create_invite"),
    ("GET", "/channels/{channel}", "_get_channel"),
    ("PATCH", "/channels/{channel}", "_edit_channel"),
    ("DELETE", "/channels/{channel}", "_delete_channel"),
    ("POST", "/interactions/{interaction}/{token}/callback", "_interaction_callback"),
    ("POST", "/webhooks/{application}/{token}", "_followup"),
    ("PATCH", "/webhooks/{application}/{token}/messages/{message}", "_edit_webhook_message"),
    ("DELETE", "/webhooks/{application}/{token}/messages/{message}", "_no_content"),
    ("PUT", "/guilds/{guild}/members/{user}/roles/{role}", "_no_content"),
    ("DELETE", "/guilds/{guild}/members/{user}/roles/{role}", "_no_content"),
    ("GET", "/guilds/{guild}/members/{user}", "_get_member"),
    ("GET", "/guilds/{guild}/members", "_list_members"),
    ("GET", "/guilds/{guild}/channels", "_guild_channels"),
    ("PATCH", "/guilds/{guild}/members/{user}", "_edit_member"),
    ("DELETE", "/guilds/{guild}/members/{user}", "_no_content"),
    ("PUT", "/guilds/{guild}/bans/{user}", "_no_content"),
    ("DELETE", "/guilds/{guild}/bans/{user}", "_no_content"),
    ("POST", "/guilds/{guild}/roles", "_create_role"),
    ("PATCH", "/guilds/{guild}/roles/{role}", "_edit_role"),
    ("DELETE", "/guilds/{guild}/roles/{role}", "_no_content"),
    ("POST", "/guilds/{guild}/channels", "_create_channel"),
    ("POST", "/guilds/{guild}/scheduled-events", "_create_scheduled_event"),
    ("GET", "/guilds/{guild}", "_get_guild"),
    ("PUT", "/applications/{application}/commands", "_set_commands"),
    ("GET", "/applications/{application}/commands", "_get_commands"),
    ("PUT", "/applications/{application}/guilds/{guild}/commands", "_set_commands"),
    ("GET", "/applications/{application}/guilds/{guild}/commands", "_get_commands"),
]
_COMPILED = [
    (
        method,
        template,
        re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"),
        name,
    )
    for method, template, name in _ROUTES
]
_MESSAGE_FIELDS = ("embeds", "components", "flags", "tts", "sticker_ids", "poll")


class DiscordAPIError(Exception):
    """Raised by an endpoint to answer with Discord's error body ``{"message", "code"}``."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class DiscordREST:
    """Endpoint implementations; mixed into FakeDiscord, which supplies ``me`` and the log."""

    me: Json
    application_id: str
    gateway_url: str

    def __init__(self) -> None:
        self.guilds: dict[str, Json] = {}
        self.channels: dict[str, Json] = {}
        self.messages: dict[tuple[str, str], Json] = {}
        self.users: dict[str, Json] = {}
        self.commands: dict[str | None, list[Json]] = {}
        self.interactions: dict[str, Json] = {}
        # The message each interaction's response created or, for an update, edited.
        self.interaction_messages: dict[str, Json] = {}
        self.responded: set[str] = set()  # interactions given their one initial response

    def resolve(self, method: str, path: str) -> tuple[str, dict[str, str], Handler] | None:
        """The route template, path parameters and implementation serving ``method path``."""
        for route_method, template, pattern, name in _COMPILED:
            if route_method == method and (match := pattern.match(path)):
                return template, match.groupdict(), getattr(self, name)
        return None

    # -- state set up by tests --------------------------------------------------------------

    def user(self, user_id: int | str, username: str | None = None) -> Json:
        key = str(user_id)
        if key == self.me["id"]:
            return self.me
        if key not in self.users or username:
            self.users[key] = dc.user(key, username)
        return self.users[key]

    def add_guild(
        self,
        guild_id: int | str = DEFAULT_GUILD_ID,
        name: str = "Flowbot Test Guild",
        *,
        channel_ids: tuple[int | str, ...] = (DEFAULT_CHANNEL_ID,),
        member_ids: tuple[int | str, ...] = (DEFAULT_USER_ID,),
        admin_ids: tuple[int | str, ...] = (),
    ) -> Json:
        """A guild the bot is in: sent as GUILD_CREATE after every READY. The first member
        owns it; ``admin_ids`` (the bot's id too, if given) hold a role with ADMINISTRATOR."""
        guild_id = str(guild_id)
        channels = [
            self.add_channel(c, guild_id=guild_id, name=f"general-{c}") for c in channel_ids
        ]
        admin_role = dc.role(dc.snowflake(), "Admin", permissions=str(ADMINISTRATOR))
        admins = {str(a) for a in admin_ids}
        members = [
            dc.member(self.user(u), roles=[admin_role["id"]] if str(u) in admins else [])
            for u in (*member_ids, self.me["id"])
        ]
        guild = dc.guild(
            guild_id,
            name,
            member_ids[0] if member_ids else self.me["id"],
            channels=channels,
            members=members,
            member_count=len(members),
        )
        guild["roles"].append(admin_role)
        self.guilds[guild_id] = guild
        return guild

    def add_channel(self, channel_id: int | str, channel_type: int = 0, **fields: Any) -> Json:
        channel = dc.channel(channel_id, channel_type, **fields)
        self.channels[channel["id"]] = channel
        return channel

    def user_message(
        self,
        content: str,
        *,
        channel_id: int | str = DEFAULT_CHANNEL_ID,
        user_id: int | str = DEFAULT_USER_ID,
        **fields: Any,
    ) -> Json:
        """A MESSAGE_CREATE payload from a user (with ``guild_id`` and ``member`` in guilds)."""
        author = self.user(user_id)
        guild_id = self._guild_of(str(channel_id))
        if guild_id:
            fields.setdefault("member", {k: v for k, v in dc.member(author).items() if k != "user"})
        msg = dc.message(channel_id, author, content, guild_id=guild_id, **fields)
        self.messages[(msg["channel_id"], msg["id"])] = msg
        return msg

    def command_interaction(
        self,
        name: str,
        options: list[Json] | None = None,
        *,
        channel_id: int | str = DEFAULT_CHANNEL_ID,
        user_id: int | str = DEFAULT_USER_ID,
        locale: str = "en-US",
    ) -> Json:
        """An INTERACTION_CREATE payload for slash command ``/name`` from a member whose
        Discord client is in ``locale``."""
        guild_id = self._guild_of(str(channel_id))
        interaction = {
            "id": dc.snowflake(),
            "application_id": self.application_id,
            "type": 2,
            "token": secrets.token_urlsafe(32),
            "version": 1,
            "data": {"id": dc.snowflake(), "name": name, "type": 1, "options": options or []},
            "channel_id": str(channel_id),
            "channel": self.channels.get(str(channel_id)) or dc.channel(channel_id, 0),
            "locale": locale,
            "app_permissions": "2248473465835073",
            "entitlements": [],
            "authorizing_integration_owners": {"0": guild_id or "0"},
            "context": 0,
            "attachment_size_limit": 10_485_760,
        }
        if guild_id:
            permissions = {"permissions": "2248473465835073"}
            interaction.update(
                guild_id=guild_id,
                guild_locale="en-US",
                member={**dc.member(self.user(user_id)), **permissions},
            )
        else:
            interaction["user"] = self.user(user_id)
        self.interactions[interaction["id"]] = interaction
        return interaction

    def component_interaction(
        self,
        message: Json,
        custom_id: str,
        *,
        user_id: int | str = DEFAULT_USER_ID,
        locale: str = "en-US",
    ) -> Json:
        """An INTERACTION_CREATE payload for a click on button ``custom_id`` under
        ``message`` (one the bot sent: see ``interaction_messages``)."""
        interaction = self.command_interaction(
            "unused", channel_id=message["channel_id"], user_id=user_id, locale=locale
        )
        interaction.update(
            type=3,
            token=secrets.token_urlsafe(32),
            data={"custom_id": custom_id, "component_type": 2},
            message=message,
        )
        return interaction

    def _guild_of(self, channel_id: str) -> str | None:
        return (self.channels.get(channel_id) or {}).get("guild_id")

    def _message_from(self, call: DiscordCall, channel_id: str, **extra: Any) -> Json:
        body = call.json or {}
        fields = {key: body[key] for key in _MESSAGE_FIELDS if key in body}
        if reference := body.get("message_reference"):
            ref_id = str(reference["message_id"])
            fields["message_reference"] = {
                "type": 0,
                "message_id": ref_id,
                "channel_id": channel_id,
                "guild_id": self._guild_of(channel_id),
            }
            fields["referenced_message"] = self.messages.get((channel_id, ref_id))
            fields["type"] = 19
        fields["attachments"] = [
            dc.attachment(upload.filename or "file", len(upload.data), upload.content_type)
            for upload in call.files.values()
        ]
        msg = dc.message(
            channel_id,
            self.me,
            body.get("content") or "",
            guild_id=self._guild_of(channel_id),
            **{**fields, **extra},
        )
        self.messages[(channel_id, msg["id"])] = msg
        return msg

    def _known_message(self, channel_id: str, message_id: str) -> Json:
        if (channel_id, message_id) not in self.messages:
            raise DiscordAPIError(404, 10008, "Unknown Message")
        return self.messages[(channel_id, message_id)]

    # -- endpoints --------------------------------------------------------------------------

    def _no_content(self, call: DiscordCall) -> None:
        return None

    def _my_user(self, call: DiscordCall) -> Json:
        return dc.own_user(self.me["id"], self.me["username"])

    def _get_user(self, call: DiscordCall) -> Json:
        return self.user(call.params["user"])

    def _my_application(self, call: DiscordCall) -> Json:
        owner = self.user(DEFAULT_USER_ID)
        return dc.application(self.application_id, owner, self.me["username"])

    def _gateway_bot(self, call: DiscordCall) -> Json:
        return dc.gateway_bot(self.gateway_url)

    def _gateway(self, call: DiscordCall) -> Json:
        return {"url": self.gateway_url}

    def _create_dm(self, call: DiscordCall) -> Json:
        recipient = self.user(call.json["recipient_id"])
        return self.add_channel(dc.snowflake(), 1, recipients=[recipient])

    def _create_message(self, call: DiscordCall) -> Json:
        return self._message_from(call, call.params["channel"])

    def _get_message(self, call: DiscordCall) -> Json:
        return self._known_message(call.params["channel"], call.params["message"])

    def _edit_message(self, call: DiscordCall) -> Json:
        key = (call.params["channel"], call.params["message"])
        original = self.messages.get(key) or dc.message(key[0], self.me, message_id=key[1])
        return self._updated(original, call.json or {})

    def _updated(self, original: Json, body: Json) -> Json:
        """``original`` with the content and fields ``body`` sets, stored as edited."""
        changes = {k: body[k] for k in ("content", *_MESSAGE_FIELDS) if k in body}
        if "components" in changes:
            changes["components"] = dc.numbered(changes["components"])
        edited = {**original, **changes, "edited_timestamp": dc.iso_now()}
        self.messages[(edited["channel_id"], edited["id"])] = edited
        return edited

    def _delete_message(self, call: DiscordCall) -> None:
        self.messages.pop((call.params["channel"], call.params["message"]), None)

    def _thread_from_message(self, call: DiscordCall) -> Json:
        return self._thread(call, default_type=11)

    def _thread(self, call: DiscordCall, default_type: int = 12) -> Json:
        parent = call.params["channel"]
        body = call.json or {}
        return self.add_channel(
            call.params.get("message") or dc.snowflake(),
            body.get("type", default_type),
            guild_id=self._guild_of(parent),
            name=body.get("name"),
            parent_id=parent,
            owner_id=self.me["id"],
        )

    def _create_invite(self, call: DiscordCall) -> Json:
        channel = self.channels.get(call.params["channel"]) or dc.channel(call.params["channel"])
        body = {
            k: v for k, v in (call.json or {}).items() if k in ("max_age", "max_uses", "temporary")
        }
        return dc.invite(channel, self.me, **body)

    def _get_channel(self, call: DiscordCall) -> Json:
        if call.params["channel"] not in self.channels:
            raise DiscordAPIError(404, 10003, "Unknown Channel")
        return self.channels[call.params["channel"]]

    def _edit_channel(self, call: DiscordCall) -> Json:
        channel = self.channels.get(call.params["channel"]) or dc.channel(call.params["channel"])
        self.channels[channel["id"]] = {**channel, **(call.json or {})}
        return self.channels[channel["id"]]

    def _delete_channel(self, call: DiscordCall) -> Json:
        return self.channels.pop(call.params["channel"], None) or dc.channel(call.params["channel"])

    def _interaction_callback(self, call: DiscordCall) -> Json | None:
        body = call.json or {}
        data = body.get("data") or {}
        interaction = self.interactions.get(call.params["interaction"], {})
        if call.params["interaction"] in self.responded:  # Discord takes one, then webhooks
            raise DiscordAPIError(400, 40060, "Interaction has already been acknowledged.")
        self.responded.add(call.params["interaction"])
        message = None
        if body.get("type") == 7 and "message" in interaction:  # update the clicked message
            message = self._updated(interaction["message"], data)
        elif body.get("type") in (4, 5, 7):  # message, deferred message, update message
            message = self._message_from(
                dataclasses.replace(call, json=data), interaction.get("channel_id", "0")
            )
        if message is not None:
            self.interaction_messages[call.params["interaction"]] = message
        if call.query.get("with_response") != "true":
            return None
        return dc.interaction_callback(call.params["interaction"], body.get("type", 4), message)

    def _followup(self, call: DiscordCall) -> Json:
        token = call.params["token"]
        interaction = next((i for i in self.interactions.values() if i["token"] == token), {})
        channel_id = interaction.get("channel_id", "0")
        return self._message_from(call, channel_id, webhook_id=call.params["application"])

    def _edit_webhook_message(self, call: DiscordCall) -> Json:
        body = call.json or {}
        return dc.message("0", self.me, body.get("content") or "", edited_timestamp=dc.iso_now())

    def _list_members(self, call: DiscordCall) -> list[Json]:
        """Members by ascending user id after ``after``, ``limit`` (1 to 1000, default 1)."""
        guild = self._get_guild(call)
        after = int(call.query.get("after") or 0)
        limit = min(max(int(call.query.get("limit") or 1), 1), 1000)
        members = sorted(guild["members"], key=lambda m: int(m["user"]["id"]))
        return [m for m in members if int(m["user"]["id"]) > after][:limit]

    def _guild_channels(self, call: DiscordCall) -> list[Json]:
        guild_id = self._get_guild(call)["id"]
        return [c for c in self.channels.values() if c.get("guild_id") == guild_id]

    def _my_guilds(self, call: DiscordCall) -> list[Json]:
        """The bot's guilds as partial guilds with its permissions (``with_counts``)."""
        return [
            dc.own_guild(guild, self.me["id"], self._permissions(guild, self.me["id"]))
            for guild in sorted(self.guilds.values(), key=lambda g: int(g["id"]))
            if int(guild["id"]) > int(call.query.get("after") or 0)
        ]

    def _permissions(self, guild: Json, user_id: str) -> int:
        member = next(m for m in guild["members"] if m["user"]["id"] == user_id)
        roles = {role["id"]: int(role["permissions"]) for role in guild["roles"]}
        granted = 0
        for role_id in (guild["id"], *member["roles"]):
            granted |= roles.get(role_id, 0)
        return granted

    def _get_member(self, call: DiscordCall) -> Json:
        return dc.member(self.user(call.params["user"]))

    def _edit_member(self, call: DiscordCall) -> Json:
        body = call.json or {}
        changes = {
            k: body[k]
            for k in ("nick", "roles", "communication_disabled_until", "mute", "deaf")
            if k in body
        }
        return dc.member(self.user(call.params["user"]), **changes)

    def _create_role(self, call: DiscordCall) -> Json:
        body = call.json or {}
        return dc.role(
            dc.snowflake(),
            body.get("name") or "new role",
            permissions=body.get("permissions"),
            color=body.get("color"),
            hoist=body.get("hoist"),
            mentionable=body.get("mentionable"),
        )

    def _edit_role(self, call: DiscordCall) -> Json:
        return dc.role(call.params["role"], **(call.json or {}))

    def _create_channel(self, call: DiscordCall) -> Json:
        body = dict(call.json or {})
        return self.add_channel(
            dc.snowflake(),
            body.pop("type", 0),
            guild_id=call.params["guild"],
            name=body.pop("name", None),
            **body,
        )

    def _create_scheduled_event(self, call: DiscordCall) -> Json:
        return dc.scheduled_event(call.params["guild"], self.me, call.json or {})

    def _get_guild(self, call: DiscordCall) -> Json:
        if call.params["guild"] not in self.guilds:
            raise DiscordAPIError(404, 10004, "Unknown Guild")
        return self.guilds[call.params["guild"]]

    def _set_commands(self, call: DiscordCall) -> list[Json]:
        guild = call.params.get("guild")
        self.commands[guild] = [
            dc.application_command(self.application_id, body, guild) for body in call.json or []
        ]
        return self.commands[guild]

    def _get_commands(self, call: DiscordCall) -> list[Json]:
        return self.commands.get(call.params.get("guild"), [])
