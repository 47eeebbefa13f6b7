"""Telegram user-account connector: pyrogram client, login flow, actions, event mapper."""
