"""The editor's test-run dialog: the trigger's example event as a form (the text, who wrote
it, where, which connection), or as raw JSON for anything the form does not show."""

from __future__ import annotations

import reflex as rx

from flowbot_ui.components.param_form import choice_text
from flowbot_ui.state.editor import EditorState
from flowbot_ui.state.run_payload import RunField


def _connection(field: RunField) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(width="100%", custom_attrs={"data-testid": "run-field-" + field.key}),
        rx.select.content(
            rx.foreach(
                field.choices,
                lambda choice: rx.select.item(choice_text(choice), value=choice.value),
            )
        ),
        value=field.value,
        on_change=lambda value: EditorState.set_run_field(field.index, value),
        width="100%",
    )


def _typed(field: RunField) -> rx.Component:
    return rx.input(
        default_value=field.value,
        key=field.key + "/" + field.value,
        on_blur=lambda value: EditorState.set_run_field(field.index, value),
        width="100%",
        custom_attrs={"data-testid": "run-field-" + field.key},
    )


def _field(field: RunField) -> rx.Component:
    return rx.vstack(
        rx.text(field.label, size="2", weight="medium"),
        rx.cond(field.choices.length() > 0, _connection(field), _typed(field)),
        spacing="1",
        width="100%",
    )


def _form() -> rx.Component:
    return rx.cond(
        EditorState.run_raw,
        rx.text_area(
            value=EditorState.payload_text,
            on_change=EditorState.set_payload_text,
            rows="14",
            font_family="var(--code-font-family)",
            width="100%",
            data_testid="run-payload",
        ),
        rx.scroll_area(
            rx.vstack(
                rx.foreach(EditorState.run_fields, _field),
                spacing="3",
                width="100%",
                padding_right="12px",
            ),
            type="auto",
            scrollbars="vertical",
            max_height="50vh",
            data_testid="run-form",
        ),
    )


def test_run_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Test run"),
            rx.dialog.description(
                "Runs the current draft with this event, as if it had just happened. "
                "Change what you like; the rest is a realistic example."
            ),
            rx.hstack(
                rx.switch(
                    checked=EditorState.run_raw,
                    on_change=EditorState.set_run_raw,
                    size="1",
                    data_testid="run-raw",
                ),
                rx.text("Edit as raw JSON", size="2"),
                spacing="2",
                align="center",
                margin_y="12px",
            ),
            _form(),
            rx.cond(
                EditorState.run_error != "",
                rx.callout(
                    EditorState.run_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    margin_top="8px",
                ),
            ),
            rx.flex(
                rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.button(
                    rx.icon("play", size=16),
                    "Run",
                    on_click=EditorState.start_run,
                    data_testid="run-start",
                ),
                justify="end",
                spacing="3",
                margin_top="16px",
            ),
            max_width="640px",
        ),
        open=EditorState.run_open,
        on_open_change=EditorState.set_run_open,
    )
