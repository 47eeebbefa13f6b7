"""Reusable UI pieces: the app shell, empty states, forms."""
