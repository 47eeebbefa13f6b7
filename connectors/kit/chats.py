"""Re-exports the engine's chat discovery contract for the connectors."""

from engine.chat_discovery import (
    CHAT_SEEN,
    LIST_CHATS,
    LIST_MEMBERS,
    POOL_ACTIONS,
    ListChatsParams,
    ListMembersParams,
    MemberRole,
    chat_entry,
    chat_seen,
    member_entry,
)

__all__ = [
    "CHAT_SEEN",
    "LIST_CHATS",
    "LIST_MEMBERS",
    "POOL_ACTIONS",
    "ListChatsParams",
    "ListMembersParams",
    "MemberRole",
    "chat_entry",
    "chat_seen",
    "member_entry",
]
