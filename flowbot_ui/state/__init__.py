"""Reflex states: per-browser UI state that calls engine services."""
