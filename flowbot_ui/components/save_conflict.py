"""The editor's banner after a save made elsewhere, and the dialog of each way out."""

from __future__ import annotations

import reflex as rx

from flowbot_ui.state.editor import EditorState
from flowbot_ui.state.room import FlowRoom
from flowbot_ui.state.save_conflict import ConflictRow, SaveConflictState

S = SaveConflictState

_TITLES = {
    "theirs": "Take the saved version?",
    "ours": "Keep the edits here and overwrite?",
    "merge": "Merge: pick a side where both changed the same thing",
}
_LEADS = {
    "theirs": "These unsaved edits are dropped:",
    "ours": "What was saved elsewhere is overwritten; these changes of it are lost:",
    "merge": "The other edits are merged. Where both sides changed the same thing, "
    "pick which one stays:",
}
_CONFIRMS = {
    "theirs": "Drop them and take the saved version",
    "ours": "Overwrite the saved version",
    "merge": "Merge",
}


def conflict_banner() -> rx.Component:
    """Said to editors only: a viewer has nothing to choose."""
    return rx.cond(
        (FlowRoom.conflict != "") & EditorState.can_edit,
        rx.callout(
            rx.hstack(
                rx.text(FlowRoom.conflict),
                rx.button("Merge…", size="1", on_click=S.ask("merge"), data_testid="resolve-merge"),
                rx.button(
                    "Take saved version…",
                    size="1",
                    variant="soft",
                    on_click=S.ask("theirs"),
                    data_testid="resolve-theirs",
                ),
                rx.button(
                    "Keep mine…",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    on_click=S.ask("ours"),
                    data_testid="resolve-ours",
                ),
                align="center",
                spacing="3",
            ),
            icon="triangle-alert",
            color_scheme="red",
            width="100%",
            data_testid="conflict",
        ),
    )


def resolved_notice() -> rx.Component:
    return rx.cond(
        S.done != "",
        rx.callout(
            rx.hstack(
                rx.text(S.done),
                rx.icon_button(
                    rx.icon("x", size=12), size="1", variant="ghost", on_click=S.dismiss
                ),
                align="center",
                spacing="2",
            ),
            icon="check",
            size="1",
            color_scheme="green",
            width="100%",
            data_testid="resolved",
        ),
    )


def _row(row: ConflictRow) -> rx.Component:
    def side(label: str | rx.Var[str], value: str, choice: str) -> rx.Component:
        return rx.button(
            rx.text(label, weight="bold"),
            rx.text(value, trim="both", white_space="pre-wrap"),
            size="1",
            variant=rx.cond(row.choice == choice, "solid", "outline"),
            on_click=S.choose(row.key, choice),
            data_testid="pick-" + choice + "-" + row.key,
            height="auto",
            padding="6px",
        )

    return rx.vstack(
        rx.text(row.what, size="2", weight="medium"),
        rx.hstack(side(row.mine_label, row.mine, "ours"), side("Theirs:", row.theirs, "theirs")),
        spacing="1",
        data_testid="merge-conflict",
    )


def save_conflict_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.match(S.asking, *_TITLES.items(), "")),
            rx.dialog.description(rx.match(S.asking, *_LEADS.items(), "")),
            rx.cond(
                S.again != "",
                rx.callout(S.again, icon="info", size="1", color_scheme="amber"),
            ),
            rx.cond(
                S.asking == "merge",
                rx.vstack(rx.foreach(S.rows, _row), spacing="3", margin_y="12px"),
                rx.cond(
                    S.goes.length() > 0,
                    rx.unordered_list(
                        rx.foreach(S.goes, lambda line: rx.list_item(line)),
                        margin_y="12px",
                        data_testid="what-goes",
                    ),
                    rx.text("Nothing.", margin_y="12px", data_testid="what-goes"),
                ),
            ),
            rx.flex(
                rx.button("Cancel", variant="soft", color_scheme="gray", on_click=S.cancel),
                rx.button(
                    rx.match(S.asking, *_CONFIRMS.items(), ""),
                    color_scheme=rx.cond(S.asking == "merge", "violet", "red"),
                    on_click=[S.confirm, EditorState.refresh_panel],
                    data_testid="resolve-confirm",
                ),
                justify="end",
                spacing="3",
            ),
            max_width="560px",
            data_testid="resolve-dialog",
        ),
        open=S.asking != "",
    )
