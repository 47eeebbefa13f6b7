"""Folders of flows: list, create, rename, delete (a non-empty one only with ``move_to``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from engine.api.v1 import paging
from engine.api.v1.caller import Editor, Viewer, run
from engine.api.v1.flows import FOLDER_REF, KEY_IN_USE, folder_ref, refusals
from engine.api.v1.idempotency import IdempotencyKey, once
from engine.models import AdminUser, FlowFolder
from engine.services import flows

router = APIRouter(prefix="/folders", tags=["Folders"])
FolderId = Annotated[int, Path(description="The folder's id.")]


class FolderOut(BaseModel):
    """A folder of flows."""

    id: int
    name: str = Field(examples=["Moderation"])
    parent_id: int | None = Field(description="The folder it sits in; null at the top level.")
    flows: int = Field(description="How many flows it holds.", examples=[4])
    created_at: datetime

    @classmethod
    def of(cls, folder: FlowFolder, flows_held: int) -> FolderOut:
        return cls(
            id=folder.id or 0,
            name=folder.name,
            parent_id=folder.parent_id,
            flows=flows_held,
            created_at=folder.created_at,
        )


class FolderIn(BaseModel):
    name: str = Field(min_length=1, max_length=128, examples=["Moderation"])


def _out(session: Session, folder: FlowFolder) -> FolderOut:
    counts = flows.folder_counts(session, [folder.id or 0])
    return FolderOut.of(folder, counts.get(folder.id or 0, 0))


@router.get("", response_model=paging.Page[FolderOut], summary="List folders")
async def list_folders(
    caller: Viewer, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[FolderOut]:
    def action(session: Session, _: AdminUser) -> paging.Page[FolderOut]:
        rows, after = paging.fetch(session, select(FlowFolder), FlowFolder.id, limit, cursor)
        counts = flows.folder_counts(session, [f.id for f in rows])
        items = [FolderOut.of(f, counts.get(f.id, 0)) for f in rows]
        return paging.Page(items=items, next_cursor=after)

    return await run(caller, action)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=FolderOut,
    summary="Create a folder",
    responses=refusals(c409=KEY_IN_USE),
)
async def create_folder(
    body: FolderIn, caller: Editor, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    def action(session: Session, me: AdminUser) -> dict[str, object]:
        folder = flows.create_folder(session, me, body.name)
        return FolderOut.of(folder, 0).model_dump(mode="json")

    async def produce() -> tuple[int, dict[str, object]]:
        return 201, await run(caller, action)

    return await once(caller, idempotency_key, request, produce)


@router.patch("/{folder_id}", response_model=FolderOut, summary="Rename a folder")
async def rename_folder(folder_id: FolderId, body: FolderIn, caller: Editor) -> FolderOut:
    def action(session: Session, me: AdminUser) -> FolderOut:
        return _out(session, flows.rename_folder(session, me, folder_id, body.name))

    return await run(caller, action)


@router.delete(
    "/{folder_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a folder (409 while it holds flows, unless `move_to` says where they go)",
    responses=refusals(c409="The folder is not empty."),
)
async def delete_folder(
    folder_id: FolderId,
    caller: Editor,
    move_to: Annotated[
        str | None,
        Query(
            pattern=FOLDER_REF,
            description="Where its flows and sub-folders go: a folder's id, or `root`.",
            examples=["root"],
        ),
    ] = None,
) -> None:
    def action(session: Session, me: AdminUser) -> None:
        flows.delete_folder(session, me, folder_id, folder_ref(move_to))

    await run(caller, action)
