"""Code and values to copy (URLs, curl examples, secrets), alike on every page."""

from __future__ import annotations

import reflex as rx


def snippet(code: str | rx.Var, language: str, test_id: str, **props: str) -> rx.Component:
    """Code to copy (curl, Python), wrapped rather than scrolled sideways."""
    return rx.code_block(
        code,
        language=language,
        wrap_long_lines=True,
        font_size="12px",
        data_testid=test_id,
        **props,
    )


def copy_button(value: rx.Var, what: str) -> rx.Component:
    return rx.tooltip(
        rx.icon_button(
            rx.icon("copy", size=14),
            variant="soft",
            color_scheme="gray",
            size="1",
            on_click=[rx.set_clipboard(value), rx.toast.success(f"{what} copied")],
            aria_label=f"Copy {what.lower()}",
        ),
        content=f"Copy {what.lower()}",
    )
