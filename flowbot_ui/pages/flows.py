"""The flows page: folders, search, status and run figures; create, rename, duplicate,
move, delete, import and export."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import reflex as rx
from pydantic import BaseModel

from engine.db import session_scope
from engine.services import auth, flows
from flowbot_ui.components.forms import error_callout
from flowbot_ui.components.layout import empty_state, page_header, shell
from flowbot_ui.components.table import data_table
from flowbot_ui.components.workspace import flow_status_chip
from flowbot_ui.pages.flow_gallery import GalleryState, gallery_dialog
from flowbot_ui.state.auth import AuthState

ALL, UNFILED = "all", "none"


class FlowRow(BaseModel):
    id: int
    name: str
    description: str
    folder: str
    status: str
    status_label: str
    unpublished: bool
    last_run: str
    success: str
    updated: str


class FolderRow(BaseModel):
    id: str
    name: str
    count: int


def _when(value) -> str:  # type: ignore[no-untyped-def]
    return value.strftime("%d %b %Y, %H:%M") if value else "never"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "flow"


class FlowsState(AuthState):
    rows: list[FlowRow] = []
    folders: list[FolderRow] = []
    total: int = 0
    search: str = ""
    folder: str = ALL
    dialog: str = ""  # "", "new", "rename", "move", "delete", "import", "folder"
    target_id: int = 0
    target_name: str = ""
    move_to: str = UNFILED
    import_text: str = ""
    import_problems: list[str] = []
    message: str = ""

    @rx.event
    def load(self) -> None:
        self.message, self.error = "", ""
        self._reload()

    def _reload(self) -> None:
        with session_scope() as session:
            everything = flows.list_flows(session)
            folders = flows.list_folders(session)
            names = {f.id: f.name for f in folders}
            wanted = flows.list_flows(
                session,
                search=self.search,
                folder_id=None if self.folder in (ALL, UNFILED) else int(self.folder),
                all_folders=self.folder == ALL,
            )
        self.total = len(everything)
        counts: dict[int | None, int] = {}
        for row in everything:
            counts[row.folder_id] = counts.get(row.folder_id, 0) + 1
        self.folders = [
            FolderRow(id=ALL, name="All flows", count=len(everything)),
            FolderRow(id=UNFILED, name="Not in a folder", count=counts.get(None, 0)),
            *[FolderRow(id=str(f.id), name=f.name, count=counts.get(f.id, 0)) for f in folders],
        ]
        self.rows = [
            FlowRow(
                id=r.id,
                name=r.name,
                description=r.description,
                folder=names.get(r.folder_id, "") if r.folder_id else "",
                status=r.status,
                status_label=r.status_label,
                unpublished=r.unpublished_changes,
                last_run=_when(r.last_run_at),
                success="—" if r.success_rate is None else f"{r.success_rate:.0%} of {r.runs}",
                updated=_when(r.updated_at),
            )
            for r in wanted
        ]

    def _run(self, action: Callable[[Any, Any], Any], success: str) -> bool:
        """A service call as the signed-in user; a refusal becomes the message shown."""
        try:
            with session_scope() as session:
                action(session, self._current_user(session))
        except flows.FlowImportError as exc:
            self.import_problems = exc.problems
            self.error = "The file was not imported."
            return False
        except (flows.FlowError, auth.AuthError) as exc:
            self.error, self.message = str(exc), ""
            return False
        self.error, self.message, self.dialog = "", success, ""
        self._reload()
        return True

    # -- filters

    @rx.event
    def set_search(self, text: str) -> None:
        self.search = text
        self._reload()

    @rx.event
    def pick_folder(self, folder: str) -> None:
        self.folder = folder
        self._reload()

    # -- dialogs

    @rx.event
    def open_dialog(self, kind: str, flow_id: int = 0, name: str = "") -> None:
        self.dialog, self.target_id, self.target_name = kind, flow_id, name
        self.import_problems, self.import_text, self.error = [], "", ""
        self.move_to = UNFILED

    @rx.event
    def close_dialog(self, open_: bool = False) -> None:
        if not open_:
            self.dialog = ""

    @rx.event
    def set_move_to(self, value: str) -> None:
        self.move_to = value

    @rx.event
    def set_import_text(self, text: str) -> None:
        self.import_text = text

    # -- actions

    @rx.event
    def create(self, form: dict):  # type: ignore[no-untyped-def]
        created: list[int] = []
        folder_id = None if self.folder in (ALL, UNFILED) else int(self.folder)
        if self._run(
            lambda s, me: created.append(
                flows.create_flow(s, me, form.get("name", ""), folder_id=folder_id).id or 0
            ),
            "Flow created.",
        ):
            return rx.redirect(f"/flows/{created[0]}")
        return None

    @rx.event
    def create_folder(self, form: dict) -> None:
        self._run(lambda s, me: flows.create_folder(s, me, form.get("name", "")), "Folder created.")

    @rx.event
    def rename(self, form: dict) -> None:
        self._run(
            lambda s, me: flows.rename_flow(s, me, self.target_id, form.get("name", "")),
            "Renamed.",
        )

    @rx.event
    def duplicate(self, flow_id: int) -> None:
        self._run(lambda s, me: flows.duplicate_flow(s, me, flow_id), "Duplicated.")

    @rx.event
    def move(self) -> None:
        folder_id = None if self.move_to == UNFILED else int(self.move_to)
        self._run(lambda s, me: flows.move_flow(s, me, self.target_id, folder_id), "Moved.")

    @rx.event
    def delete(self) -> None:
        self._run(
            lambda s, me: flows.delete_flow(s, me, self.target_id),
            f"Deleted {self.target_name}.",
        )

    @rx.event
    def do_import(self) -> None:
        folder_id = None if self.folder in (ALL, UNFILED) else int(self.folder)
        self._run(
            lambda s, me: flows.import_flow(s, me, self.import_text, folder_id=folder_id),
            "Flow imported.",
        )

    @rx.event
    def export(self, flow_id: int):  # type: ignore[no-untyped-def]
        with session_scope() as session:
            document = flows.export_flow(session, flow_id)
        return rx.download(
            data=json.dumps(document, indent=2, default=str),
            filename=f"{_slug(document['name'])}.flow.json",
        )


# --------------------------------------------------------------------------- view


def _dialog(kind: str, title: str, *content: rx.Component) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.vstack(*content, spacing="3", width="100%"),
            max_width="520px",
        ),
        open=FlowsState.dialog == kind,
        on_open_change=FlowsState.close_dialog,
    )


def _buttons(label: str, **props) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.flex(
        rx.button(
            "Cancel",
            type="button",
            variant="soft",
            color_scheme="gray",
            on_click=FlowsState.close_dialog(False),
        ),
        rx.button(label, **props),
        spacing="3",
        justify="end",
        width="100%",
    )


def _name_form(
    kind: str, title: str, handler: rx.EventHandler, label: str, default: rx.Var | str = ""
) -> rx.Component:
    return _dialog(
        kind,
        title,
        rx.form(
            rx.vstack(
                rx.input(
                    name="name",
                    default_value=default,
                    placeholder="Name",
                    required=True,
                    auto_focus=True,
                    width="100%",
                    data_testid=f"{kind}-name",
                ),
                error_callout(FlowsState.error),
                _buttons(label, type="submit"),
                spacing="3",
            ),
            on_submit=handler,
            reset_on_submit=True,
        ),
    )


def dialogs() -> rx.Component:
    return rx.fragment(
        gallery_dialog([GalleryState.close(False), FlowsState.open_dialog("new", 0, "")]),
        _name_form("new", "New flow", FlowsState.create, "Create and open"),
        _name_form("folder", "New folder", FlowsState.create_folder, "Create folder"),
        _name_form("rename", "Rename flow", FlowsState.rename, "Rename", FlowsState.target_name),
        _dialog(
            "move",
            "Move " + FlowsState.target_name,
            rx.select.root(
                rx.select.trigger(width="100%", data_testid="move-folder"),
                rx.select.content(
                    rx.foreach(
                        FlowsState.folders[1:],
                        lambda f: rx.select.item(f.name, value=f.id),
                    )
                ),
                value=FlowsState.move_to,
                on_change=FlowsState.set_move_to,
            ),
            error_callout(FlowsState.error),
            _buttons("Move", on_click=FlowsState.move, data_testid="move-confirm"),
        ),
        _dialog(
            "delete",
            "Delete " + FlowsState.target_name + "?",
            rx.text(
                "Its versions, runs and stored variables are deleted too. This cannot be undone.",
                size="2",
            ),
            error_callout(FlowsState.error),
            _buttons(
                "Delete",
                color_scheme="red",
                on_click=FlowsState.delete,
                data_testid="delete-confirm",
            ),
        ),
        _dialog(
            "import",
            "Import a flow",
            rx.text(
                "Paste a flow exported from Flowbot (a .flow.json file).",
                size="2",
                color=rx.color("gray", 11),
            ),
            rx.text_area(
                value=FlowsState.import_text,
                on_change=FlowsState.set_import_text,
                rows="10",
                font_family="var(--code-font-family)",
                width="100%",
                data_testid="import-text",
            ),
            error_callout(FlowsState.error),
            rx.cond(
                FlowsState.import_problems.length() > 0,
                rx.vstack(
                    rx.foreach(
                        FlowsState.import_problems,
                        lambda p: rx.text("• ", p, size="1", color=rx.color("red", 11)),
                    ),
                    spacing="1",
                    max_height="180px",
                    overflow_y="auto",
                    data_testid="import-problems",
                ),
            ),
            _buttons("Import", on_click=FlowsState.do_import, data_testid="import-confirm"),
        ),
    )


def _folder_item(folder: FolderRow) -> rx.Component:
    active = FlowsState.folder == folder.id
    return rx.hstack(
        rx.icon(rx.cond(folder.id == ALL, "layers", "folder"), size=15),
        rx.text(folder.name, size="2"),
        rx.spacer(),
        rx.text(folder.count, size="1", color=rx.color("gray", 10)),
        on_click=FlowsState.pick_folder(folder.id),
        cursor="pointer",
        width="100%",
        padding_x="10px",
        padding_y="6px",
        border_radius="6px",
        align="center",
        background=rx.cond(active, rx.color("accent", 4), "transparent"),
        color=rx.cond(active, rx.color("accent", 11), rx.color("gray", 12)),
        _hover={"background": rx.color("accent", 3)},
        data_testid="folder-" + folder.id,
    )


def _actions(row: FlowRow) -> rx.Component:
    return rx.dropdown_menu.root(
        rx.dropdown_menu.trigger(
            rx.icon_button(
                rx.icon("ellipsis", size=16),
                variant="ghost",
                color_scheme="gray",
                aria_label="Actions",
                data_testid="actions-" + row.id.to_string(),
            )
        ),
        rx.dropdown_menu.content(
            rx.dropdown_menu.item("Open", on_click=rx.redirect("/flows/" + row.id.to_string())),
            rx.dropdown_menu.item(
                "Rename",
                on_click=FlowsState.open_dialog("rename", row.id, row.name),
                disabled=~FlowsState.can_edit,
            ),
            rx.dropdown_menu.item(
                "Duplicate", on_click=FlowsState.duplicate(row.id), disabled=~FlowsState.can_edit
            ),
            rx.dropdown_menu.item(
                "Move to folder",
                on_click=FlowsState.open_dialog("move", row.id, row.name),
                disabled=~FlowsState.can_edit,
            ),
            rx.dropdown_menu.item("Export JSON", on_click=FlowsState.export(row.id)),
            rx.dropdown_menu.separator(),
            rx.dropdown_menu.item(
                "Delete",
                color="red",
                on_click=FlowsState.open_dialog("delete", row.id, row.name),
                disabled=~FlowsState.can_edit,
            ),
        ),
    )


def _row(row: FlowRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.link(
                    row.name,
                    href="/flows/" + row.id.to_string(),
                    weight="medium",
                    data_testid="flow-link",
                ),
                rx.cond(
                    row.description != "",
                    rx.text(row.description, size="1", color=rx.color("gray", 10)),
                ),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.cond(
                row.folder != "",
                rx.badge(
                    rx.icon("folder", size=12), row.folder, variant="surface", color_scheme="gray"
                ),
                "",
            )
        ),
        rx.table.cell(
            flow_status_chip(row.status_label, row.status, row.unpublished, data_testid="flow-chip")
        ),
        rx.table.cell(rx.text(row.last_run, size="2", color=rx.color("gray", 11))),
        rx.table.cell(rx.text(row.success, size="2")),
        rx.table.cell(rx.text(row.updated, size="2", color=rx.color("gray", 11))),
        rx.table.cell(_actions(row)),
        align="center",
        data_testid="flow-row",
    )


def flows_page() -> rx.Component:
    return shell(
        page_header(
            "Flows",
            "Automations: a trigger, conditions and actions.",
            rx.hstack(
                rx.button(
                    rx.icon("upload", size=16),
                    "Import",
                    variant="soft",
                    on_click=FlowsState.open_dialog("import", 0, ""),
                    disabled=~FlowsState.can_edit,
                ),
                rx.button(
                    rx.icon("plus", size=16),
                    "New flow",
                    on_click=GalleryState.open_gallery(FlowsState.folder),
                    disabled=~FlowsState.can_edit,
                    data_testid="new-flow",
                ),
                spacing="2",
            ),
        ),
        rx.cond(
            FlowsState.message != "",
            rx.callout(
                FlowsState.message,
                icon="check",
                color_scheme="green",
                margin_bottom="12px",
                data_testid="form-message",
            ),
        ),
        rx.cond(
            (FlowsState.dialog == "") & (FlowsState.error != ""), error_callout(FlowsState.error)
        ),
        rx.hstack(
            rx.vstack(
                rx.text(
                    "Folders", size="1", weight="bold", color=rx.color("gray", 10), padding_x="10px"
                ),
                rx.foreach(FlowsState.folders, _folder_item),
                rx.button(
                    rx.icon("folder-plus", size=14),
                    "New folder",
                    size="1",
                    variant="ghost",
                    on_click=FlowsState.open_dialog("folder", 0, ""),
                    disabled=~FlowsState.can_edit,
                    margin_top="6px",
                ),
                width="220px",
                min_width="220px",
                spacing="1",
            ),
            rx.vstack(
                rx.input(
                    rx.input.slot(rx.icon("search", size=14)),
                    placeholder="Search flows…",
                    value=FlowsState.search,
                    on_change=FlowsState.set_search.debounce(250),
                    width="100%",
                    max_width="360px",
                    data_testid="flow-search",
                ),
                rx.cond(
                    FlowsState.total == 0,
                    empty_state(
                        "workflow",
                        "No flows yet",
                        "Create a flow or import one to start automating your communities.",
                    ),
                    rx.cond(
                        FlowsState.rows.length() == 0,
                        rx.text(
                            "No flow matches.", color=rx.color("gray", 10), size="2", padding="24px"
                        ),
                        data_table(
                            (
                                "Name",
                                "Folder",
                                "Status",
                                "Last run",
                                "Success",
                                "Edited",
                                "",
                            ),
                            FlowsState.rows,
                            _row,
                        ),
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            spacing="5",
            align="start",
            width="100%",
        ),
        dialogs(),
    )
