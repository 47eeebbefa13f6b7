"""Telegram bot connector: aiogram client, actions, update mapper, command sync."""
