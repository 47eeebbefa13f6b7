"""The flow editor (/flows/[flow_ref]): palette, canvas, properties, problems, test runs."""

from __future__ import annotations

import reflex as rx

from flowbot_ui.components.flow_canvas import flow_canvas
from flowbot_ui.components.param_form import param_form
from flowbot_ui.components.save_conflict import (
    conflict_banner,
    resolved_notice,
    save_conflict_dialog,
)
from flowbot_ui.components.test_run_dialog import test_run_dialog
from flowbot_ui.components.webhook_node import webhook_node_panel
from flowbot_ui.components.workspace import (
    flow_status_chip,
    json_block,
    side_panel,
    status_badge,
    top_bar,
    workspace,
)
from flowbot_ui.state.editor import EditorState, PaletteGroup, PaletteItem, VersionRow
from flowbot_ui.state.room import FlowRoom
from flowbot_ui.state.room_notice import PersonalNotice
from flowbot_ui.state.save_conflict import SaveConflictState
from flowbot_ui.state.steps import StepRow
from flowbot_ui.state.webhook_node import WebhookNodeState

CATEGORY_COLOURS = {"trigger": "violet", "condition": "amber", "action": "blue", "advanced": "gray"}


# --------------------------------------------------------------------------- palette


def _palette_item(item: PaletteItem) -> rx.Component:
    return rx.tooltip(
        rx.hstack(
            rx.icon("grip-vertical", size=12, color=rx.color("gray", 8)),
            rx.text(item.label, size="1", weight="medium"),
            draggable=True,
            width="100%",
            align="center",
            spacing="1",
            cursor="grab",
            padding_x="6px",
            padding_y="5px",
            border_radius="6px",
            border=f"1px solid {rx.color('gray', 4)}",
            background=rx.color("gray", 1),
            _hover={"background": rx.color("accent", 3), "border_color": rx.color("accent", 6)},
            on_click=EditorState.add_node({"type": item.id}),
            custom_attrs={"data-node-type": item.id, "data-testid": "palette-" + item.id},
        ),
        content=item.description,
        side="right",
    )


def _palette_group(group: PaletteGroup) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.box(
                width="8px",
                height="8px",
                border_radius="4px",
                background=rx.match(
                    group.category,
                    *[(c, rx.color(colour, 9)) for c, colour in CATEGORY_COLOURS.items()],
                    rx.color("gray", 9),
                ),
            ),
            rx.text(group.title, size="1", weight="bold", color=rx.color("gray", 11)),
            align="center",
            spacing="2",
        ),
        rx.foreach(group.members, _palette_item),
        spacing="1",
        width="100%",
    )


def palette() -> rx.Component:
    return side_panel(
        rx.input(
            rx.input.slot(rx.icon("search", size=14)),
            placeholder="Search nodes…",
            value=EditorState.palette_search,
            on_change=EditorState.set_palette_search,
            width="100%",
            data_testid="palette-search",
        ),
        rx.text("Drag onto the canvas, or click to add.", size="1", color=rx.color("gray", 10)),
        rx.foreach(EditorState.palette, _palette_group),
        width="250px",
        border_right=f"1px solid {rx.color('gray', 5)}",
        data_testid="palette",
    )


# --------------------------------------------------------------------------- top bar


def _presence() -> rx.Component:
    return rx.hstack(
        rx.foreach(
            FlowRoom.people,
            lambda name: rx.box(  # the browser's own tooltip names them on hover
                rx.avatar(fallback=name[:2].upper(), size="2", radius="full", variant="solid"),
                title=name + " is here",
                aria_label=name + " is here",
                data_testid="present-" + name,
            ),
        ),
        spacing="1",
        data_testid="presence",
    )


def _icon_button(icon: str, label: str, **props) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.tooltip(
        rx.icon_button(
            rx.icon(icon, size=16), variant="soft", color_scheme="gray", aria_label=label, **props
        ),
        content=label,
    )


def _versions_dialog() -> rx.Component:
    def row(version: VersionRow) -> rx.Component:
        return rx.table.row(
            rx.table.cell(rx.text("v", version.version, weight="bold")),
            rx.table.cell(version.created_at),
            rx.table.cell(version.created_by),
            rx.table.cell(
                rx.dialog.close(
                    rx.button(
                        "Restore",
                        size="1",
                        variant="soft",
                        on_click=[FlowRoom.restore(version.id), EditorState.refresh_panel],
                        disabled=~EditorState.can_edit,
                    )
                )
            ),
        )

    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(
                rx.icon("history", size=16),
                "Versions",
                variant="soft",
                color_scheme="gray",
                on_click=EditorState.load_versions,
            )
        ),
        rx.dialog.content(
            rx.dialog.title("Published versions"),
            rx.dialog.description(
                "Restoring puts a version back into the draft; publish it to make it live."
            ),
            rx.cond(
                EditorState.versions.length() > 0,
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h)
                                for h in ("Version", "Published", "By", "")
                            ]
                        )
                    ),
                    rx.table.body(rx.foreach(EditorState.versions, row)),
                    width="100%",
                ),
                rx.text("Nothing published yet.", color=rx.color("gray", 10), size="2"),
            ),
            rx.flex(
                rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
                justify="end",
                margin_top="16px",
            ),
            max_width="560px",
        ),
    )


def _publish_choice(label: str, activate: bool, **props) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.dialog.close(
        rx.button(
            label,
            on_click=[
                FlowRoom.publish(activate),
                EditorState.load_versions,
                WebhookNodeState.load(EditorState.selected_id),
            ],
            **props,
        )
    )


def _publish_dialog() -> rx.Component:
    """Publishing asks what should run: a new or paused flow is only activated on request,
    and an active one is told which running version it replaces."""
    next_version = (FlowRoom.live_version + 1).to_string()
    active = FlowRoom.status == "active"
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Publish version ", next_version),
            rx.dialog.description(
                rx.cond(
                    active,
                    rx.text(
                        "This replaces the running version v",
                        FlowRoom.live_version,
                        ": from now on, every run uses version ",
                        next_version,
                        ".",
                    ),
                    rx.cond(
                        FlowRoom.published,
                        "The flow is paused. Publish the new version and start running it "
                        "now, or publish it and keep the flow paused?",
                        "This flow has never run. Start it now, so its trigger runs it from "
                        "now on, or only publish it and activate it later?",
                    ),
                ),
                data_testid="publish-question",
            ),
            rx.flex(
                rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.cond(
                    active,
                    _publish_choice("Publish and replace", True, data_testid="publish-replace"),
                    rx.fragment(
                        _publish_choice(
                            "Publish only", False, variant="soft", data_testid="publish-only"
                        ),
                        _publish_choice(
                            "Publish and activate", True, data_testid="publish-activate"
                        ),
                    ),
                ),
                justify="end",
                spacing="3",
                margin_top="16px",
            ),
            max_width="480px",
        ),
        open=EditorState.publish_open,
        on_open_change=EditorState.set_publish_open,
    )


def _title() -> rx.Component:
    """The flow's name and state: the part of the header that gives way when it is narrow
    (the name and the chip end in "…", the chip's tooltip says it whole), down to room for
    a short chip beside the saved/unsaved note; below that the buttons wrap instead."""
    return rx.vstack(
        rx.heading(
            FlowRoom.name,
            size="4",
            max_width="100%",
            overflow="hidden",
            text_overflow="ellipsis",
            white_space="nowrap",
            data_testid="flow-name",
        ),
        rx.hstack(
            rx.tooltip(
                flow_status_chip(
                    FlowRoom.status_chip,
                    FlowRoom.status,
                    FlowRoom.unpublished,
                    flex_shrink="1",  # a Radix badge does not shrink by itself
                    min_width="0",
                    data_testid="flow-status",
                ),
                content=FlowRoom.status_chip,
            ),
            rx.cond(
                FlowRoom.dirty,
                rx.text(
                    "Unsaved changes",
                    size="1",
                    color=rx.color("amber", 11),
                    white_space="nowrap",
                    flex_shrink="0",
                    data_testid="dirty",
                ),
                rx.text(
                    "All changes saved",
                    size="1",
                    color=rx.color("gray", 10),
                    white_space="nowrap",
                    flex_shrink="0",
                    data_testid="clean",
                ),
            ),
            spacing="2",
            align="center",
            width="100%",
            min_width="0",
        ),
        spacing="0",
        flex="1 1 0",
        min_width="200px",
        data_testid="editor-title",
    )


def _actions() -> rx.Component:
    """The header's buttons: never shrunk (a label cut to "Pa…" hides what it does); when
    the window is too narrow for one row they wrap onto a second."""
    return rx.flex(
        _presence(),
        rx.separator(orientation="vertical", size="2"),
        _icon_button(
            "undo-2",
            "Undo (Ctrl+Z)",
            on_click=EditorState.undo,
            disabled=~(EditorState.can_undo & EditorState.can_edit),
        ),
        _icon_button(
            "redo-2",
            "Redo (Ctrl+Y)",
            on_click=EditorState.redo,
            disabled=~(EditorState.can_redo & EditorState.can_edit),
        ),
        _icon_button(
            "layout-grid", "Auto-layout", on_click=FlowRoom.layout, disabled=~EditorState.can_edit
        ),
        _versions_dialog(),
        rx.link(
            rx.button(
                rx.icon("chart-column", size=16), "Analytics", variant="soft", color_scheme="gray"
            ),
            href="/analytics/flows?flow=" + FlowRoom.flow_id.to_string(),
            data_testid="flow-analytics-link",
        ),
        rx.button(
            rx.icon("save", size=16),
            "Save",
            variant="soft",
            on_click=FlowRoom.save,
            disabled=~EditorState.can_edit,
            data_testid="save",
        ),
        rx.button(
            rx.icon("flask-conical", size=16),
            "Test run",
            variant="soft",
            on_click=EditorState.open_run,
            disabled=~EditorState.can_edit,
            data_testid="test-run",
        ),
        rx.button(
            rx.icon("rocket", size=16),
            "Publish",
            on_click=EditorState.set_publish_open(True),
            disabled=~EditorState.can_edit,
            data_testid="publish",
        ),
        _publish_dialog(),
        rx.cond(
            FlowRoom.status == "active",
            rx.button(
                rx.icon("pause", size=16),
                "Pause",
                variant="outline",
                color_scheme="amber",
                on_click=FlowRoom.set_active(False),
                disabled=~EditorState.can_edit,
                data_testid="pause",
            ),
            rx.button(
                rx.icon("power", size=16),
                "Activate",
                variant="outline",
                color_scheme="green",
                on_click=FlowRoom.set_active(True),
                disabled=~(EditorState.can_edit & FlowRoom.published),
                data_testid="activate",
            ),
        ),
        align="center",
        justify="end",
        wrap="wrap",
        spacing="3",
        flex="0 1 auto",
        min_width="0",
        # Buttons keep their width; the row wraps instead.
        style={"& > *": {"flex_shrink": "0"}},
        data_testid="editor-actions",
    )


def header() -> rx.Component:
    return top_bar(
        rx.link(rx.icon("arrow-left", size=18), href="/flows", color=rx.color("gray", 11)),
        _title(),
        _actions(),
    )


def _discard_button(on_click: list) -> rx.Component:  # type: ignore[type-arg]
    return rx.button(
        "Discard",
        size="1",
        variant="soft",
        color_scheme="red",
        on_click=on_click,
        disabled=~EditorState.can_edit,
        data_testid="resume-discard",
    )


def _resume_notice() -> rx.Component:
    """What the flow held when the page was (re)loaded: edits not saved yet, or a saved
    draft that is not what runs; each said plainly, with the two ways out."""
    unsaved = (EditorState.found_on_load == "unsaved") & FlowRoom.dirty
    unpublished = (EditorState.found_on_load == "unpublished") & FlowRoom.unpublished
    return rx.cond(
        unsaved | unpublished,
        rx.callout(
            rx.hstack(
                rx.cond(
                    unsaved,
                    rx.text(
                        "This flow has changes that are not saved yet (made before the page "
                        "was reloaded). Save them, or discard them and go back to the saved "
                        "draft?"
                    ),
                    rx.text(
                        "The draft has saved changes that are not published: version ",
                        FlowRoom.live_version,
                        " is what runs. Publish them, or discard them and go back to version ",
                        FlowRoom.live_version,
                        "?",
                    ),
                ),
                rx.cond(
                    unsaved,
                    rx.hstack(
                        rx.button(
                            "Save", size="1", on_click=FlowRoom.save, data_testid="resume-save"
                        ),
                        _discard_button([SaveConflictState.ask("theirs")]),
                    ),
                    rx.hstack(
                        rx.button(
                            "Publish…",
                            size="1",
                            on_click=EditorState.set_publish_open(True),
                            data_testid="resume-publish",
                        ),
                        _discard_button(
                            [FlowRoom.restore(FlowRoom.live_version_id), EditorState.refresh_panel]
                        ),
                    ),
                ),
                align="center",
                spacing="3",
            ),
            icon="info",
            color_scheme="amber",
            width="100%",
            data_testid="resume-notice",
        ),
    )


def notices() -> rx.Component:
    return rx.fragment(
        rx.cond(
            EditorState.signed_in & ~EditorState.can_edit,
            rx.callout(
                "You can look at this flow but not change it (viewer role).",
                icon="eye",
                size="1",
                width="100%",
                data_testid="read-only",
            ),
        ),
        _resume_notice(),
        conflict_banner(),
        resolved_notice(),
        save_conflict_dialog(),
        rx.cond(
            PersonalNotice.text != "",
            rx.callout(
                rx.hstack(
                    rx.text(PersonalNotice.text),
                    rx.icon_button(
                        rx.icon("x", size=14),
                        size="1",
                        variant="ghost",
                        aria_label="Dismiss",
                        on_click=PersonalNotice.dismiss,
                    ),
                    justify="between",
                    width="100%",
                ),
                icon="triangle_alert",
                color_scheme="amber",
                size="1",
                width="100%",
                data_testid="my-notice",
            ),
        ),
        rx.cond(
            FlowRoom.notice != "",
            rx.callout(FlowRoom.notice, icon="info", size="1", width="100%", data_testid="notice"),
        ),
    )


# --------------------------------------------------------------------------- right panel


def _run_panel() -> rx.Component:
    def step(row: StepRow) -> rx.Component:
        return rx.hstack(
            status_badge(row.status),
            rx.text(row.node_id, size="2", weight="medium"),
            rx.spacer(),
            rx.text(row.duration, size="1", color=rx.color("gray", 10), white_space="nowrap"),
            width="100%",
            cursor="pointer",
            on_click=EditorState.select(row.node_id),
            data_testid="run-step-" + row.node_id,
        )

    return rx.cond(
        EditorState.run_id > 0,
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.text("Test run #", EditorState.run_id, weight="bold", size="2"),
                    status_badge(EditorState.run_status, data_testid="run-status"),
                    rx.spacer(),
                    rx.link(
                        "Debug", href="/executions/" + EditorState.run_id.to_string(), size="2"
                    ),
                    rx.icon_button(
                        rx.icon("x", size=14),
                        size="1",
                        variant="ghost",
                        on_click=EditorState.clear_run,
                    ),
                    width="100%",
                    align="center",
                ),
                rx.cond(
                    EditorState.run_error != "",
                    rx.text(EditorState.run_error, size="1", color=rx.color("red", 11)),
                ),
                rx.foreach(EditorState.run_steps, step),
                spacing="2",
                width="100%",
            ),
            width="100%",
            data_testid="run-panel",
        ),
    )


def _step_detail() -> rx.Component:
    step = EditorState.selected_step
    return rx.cond(
        step,
        rx.vstack(
            rx.hstack(
                rx.text("In the test run", size="2", weight="bold"),
                status_badge(step.status),
                spacing="2",
            ),
            rx.cond(
                step.error != "",
                rx.callout(step.error, icon="circle-x", color_scheme="red", size="1"),
            ),
            rx.text("Input", size="1", weight="medium", color=rx.color("gray", 11)),
            json_block(step.input, "step-input"),
            rx.text("Output", size="1", weight="medium", color=rx.color("gray", 11)),
            json_block(step.output, "step-output"),
            spacing="2",
            width="100%",
        ),
    )


def _properties() -> rx.Component:
    return rx.cond(
        EditorState.selected_id != "",
        rx.vstack(
            rx.hstack(
                rx.vstack(
                    rx.heading(EditorState.selected_label, size="3"),
                    rx.code(EditorState.selected_id, size="1", data_testid="selected-id"),
                    spacing="1",
                ),
                rx.spacer(),
                rx.icon_button(
                    rx.icon("trash-2", size=14),
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    aria_label="Delete node",
                    on_click=[
                        FlowRoom.delete_items({"nodes": [EditorState.selected_id]}),
                        EditorState.refresh_panel,
                    ],
                    disabled=~EditorState.can_edit,
                ),
                width="100%",
            ),
            rx.text(EditorState.selected_description, size="1", color=rx.color("gray", 10)),
            rx.separator(size="4"),
            param_form(),
            webhook_node_panel(),
            _step_detail(),
            spacing="3",
            width="100%",
            data_testid="properties",
        ),
        rx.text("Select a node to edit its settings.", size="2", color=rx.color("gray", 10)),
    )


def _problems() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text("Problems", size="2", weight="bold"),
            rx.badge(
                FlowRoom.problem_count,
                variant="soft",
                color_scheme=rx.cond(FlowRoom.error_count > 0, "red", "gray"),
            ),
            spacing="2",
        ),
        rx.cond(
            FlowRoom.problem_count == 0,
            rx.text("No problems: ready to publish.", size="1", color=rx.color("green", 11)),
        ),
        rx.foreach(
            FlowRoom.problems,
            lambda p: rx.hstack(
                rx.icon(
                    rx.cond(p["severity"] == "error", "circle-x", "triangle-alert"),
                    size=14,
                    color=rx.cond(
                        p["severity"] == "error", rx.color("red", 10), rx.color("amber", 10)
                    ),
                    flex_shrink="0",
                    margin_top="2px",
                ),
                rx.text(p["message"], size="1"),
                align="start",
                spacing="2",
                cursor="pointer",
                on_click=EditorState.select(p["node_id"]),
            ),
        ),
        rx.cond(
            FlowRoom.problem_count > FlowRoom.problems.length(),
            rx.text(
                "… and ",
                FlowRoom.problem_count - FlowRoom.problems.length(),
                " more",
                size="1",
                color=rx.color("gray", 10),
            ),
        ),
        spacing="2",
        width="100%",
        data_testid="problems",
    )


def right_panel() -> rx.Component:
    return side_panel(
        _run_panel(),
        _properties(),
        rx.separator(size="4"),
        _problems(),
        border_left=f"1px solid {rx.color('gray', 5)}",
    )


def editor_page() -> rx.Component:
    return workspace(
        rx.cond(
            EditorState.missing,
            rx.center(
                rx.text("This flow does not exist (was it deleted?)."), padding="64px", width="100%"
            ),
            rx.fragment(
                header(),
                notices(),
                rx.hstack(
                    palette(),
                    rx.box(
                        flow_canvas(
                            graph=EditorState.canvas,
                            patch=FlowRoom.patch,
                            people=FlowRoom.people_on_nodes,
                            me=EditorState.username,
                            on_resync=EditorState.resync,
                            statuses=EditorState.statuses,
                            highlight="",
                            read_only=~EditorState.can_edit,
                            dirty=FlowRoom.dirty,
                            hold_autosave=EditorState.found_on_load == "unsaved",
                            on_autosave=FlowRoom.save_if_dirty,
                            on_clean=EditorState.settle_unsaved,
                            on_node_move=lambda moved: [
                                FlowRoom.move_nodes(moved),
                                EditorState.refresh_history,
                            ],
                            on_connect_edge=FlowRoom.connect,
                            on_delete_items=lambda items: [
                                FlowRoom.delete_items(items),
                                EditorState.refresh_panel,
                            ],
                            on_drop_node=EditorState.add_node,
                            on_select_node=EditorState.select,
                            on_shortcut=EditorState.shortcut,
                            on_heartbeat=FlowRoom.heartbeat,
                            on_leave=FlowRoom.leave,
                            on_graph_change=EditorState.refresh_panel,
                        ),
                        flex="1",
                        height="100%",
                        background=rx.color("gray", 2),
                    ),
                    right_panel(),
                    spacing="0",
                    width="100%",
                    flex="1",
                    min_height="0",
                ),
                test_run_dialog(),
            ),
        )
    )
