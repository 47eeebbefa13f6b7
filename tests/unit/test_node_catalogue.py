"""The registry declares exactly the node catalogue of docs/NODES.md, and declares it well.

The editor's forms, flow validation and the docs are generated from the registry,
so a missing node, a field without a description or an example payload that the
executor would reject shows up to admins; these tests catch it first.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from engine.nodes import REGISTRY, NodeCategory, NodePlatform, NodeType
from engine.platform_event import PlatformEvent
from tests.services import required_under_ci

DOC = Path(__file__).parents[2] / "docs" / "NODES.md"
SHARED_DOC = Path(__file__).parents[3] / "shared" / "NODES.md"

SECTIONS = {
    "Triggers": NodeCategory.trigger,
    "Conditions": NodeCategory.condition,
    "Actions": NodeCategory.action,
    "Advanced": NodeCategory.advanced,
}
# A list's heading ("Telegram bot (aiogram updates), 14:") names the platform of its nodes.
# A utility node the executor interprets itself (the durable delay) has platform "flow".
LIST_PLATFORMS = {
    "Telegram bot": {NodePlatform.telegram_bot},
    "Telegram user account": {NodePlatform.telegram_user},
    "Discord": {NodePlatform.discord_bot},
    "WhatsApp": {NodePlatform.whatsapp_user},
    "Cross-platform": {NodePlatform.cross_platform},
    "Utility": {NodePlatform.utility, NodePlatform.flow},
    "General": {NodePlatform.general},
}
EVENT_PLATFORMS = {
    NodePlatform.telegram_bot: "telegram",
    NodePlatform.telegram_user: "telegram",
    NodePlatform.discord_bot: "discord",
    NodePlatform.whatsapp_user: "whatsapp",
    NodePlatform.general: "flowbot",
}
PLATFORM_PREFIXES = {
    NodePlatform.telegram_bot: "tg_",
    NodePlatform.telegram_user: "tgu_",
    NodePlatform.discord_bot: "dc_",
    NodePlatform.whatsapp_user: "wa_",
}

SECTION_RE = re.compile(r"^## (?P<name>\w+) \((?P<count>\d+)\)$")
LIST_RE = re.compile(r"^(?P<name>[A-Z][\w -]*?)(?: \([^)]*\))?, (?P<count>\d+):$")
# A node id opens an entry of a list: it starts a line or follows the "·" separator.
# Other backticked words (`Bot`, `true`, `run_flow` in prose, `engine/nodes/`) do not.
ID_RE = re.compile(r"(?:^|·\s*)`([a-z][a-z0-9_]*)`", re.MULTILINE)


@dataclass
class DocList:
    """One id list of NODES.md with the count its heading announces."""

    section: str
    name: str | None
    count: int | None
    text: str = ""
    ids: list[str] = field(default_factory=list)


@dataclass
class DocSection:
    name: str
    count: int
    lists: list[DocList] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [doc_id for doc_list in self.lists for doc_id in doc_list.ids]


def parse_catalogue(markdown: str) -> dict[str, DocSection]:
    sections: dict[str, DocSection] = {}
    current: DocList | None = None
    for line in markdown.splitlines():
        if line.startswith("## "):
            match = SECTION_RE.match(line)
            current = None
            if match and match["name"] in SECTIONS:
                section = DocSection(match["name"], int(match["count"]))
                sections[section.name] = section
                current = DocList(section.name, None, None)
                section.lists.append(current)
        elif current is not None:
            match = LIST_RE.match(line)
            if match:
                current = DocList(current.section, match["name"], int(match["count"]))
                sections[current.section].lists.append(current)
            else:
                current.text += line + "\n"
    for section in sections.values():
        for doc_list in section.lists:
            doc_list.ids = ID_RE.findall(doc_list.text)
    return sections


@pytest.fixture(scope="module")
def catalogue() -> dict[str, DocSection]:
    return parse_catalogue(DOC.read_text(encoding="utf-8"))


def test_docs_match_shared_catalogue() -> None:
    if not SHARED_DOC.exists():
        required_under_ci(f"no shared catalogue at {SHARED_DOC}", "docs/NODES.md must equal it")
    assert DOC.read_text(encoding="utf-8") == SHARED_DOC.read_text(encoding="utf-8")


def test_registry_declares_exactly_the_documented_nodes(
    catalogue: dict[str, DocSection],
) -> None:
    documented = [doc_id for section in catalogue.values() for doc_id in section.ids]
    assert len(documented) == len(set(documented)), "an id is listed twice in NODES.md"
    missing = sorted(set(documented) - REGISTRY.ids())
    undocumented = sorted(REGISTRY.ids() - set(documented))
    assert not missing and not undocumented, (
        f"documented but not declared: {missing}\ndeclared but not documented: {undocumented}"
    )
    assert len(REGISTRY) == 186


def test_counts_match_the_headings(catalogue: dict[str, DocSection]) -> None:
    assert set(catalogue) == set(SECTIONS)
    for section in catalogue.values():
        declared = [t.id for t in REGISTRY if t.category is SECTIONS[section.name]]
        assert len(section.ids) == section.count, section.name
        assert len(declared) == section.count, (section.name, sorted(declared))
        for doc_list in section.lists:
            if doc_list.count is not None:
                assert len(doc_list.ids) == doc_list.count, (section.name, doc_list.name)


def test_nodes_sit_in_their_documented_category_and_platform(
    catalogue: dict[str, DocSection],
) -> None:
    misplaced = []
    for section in catalogue.values():
        for doc_list in section.lists:
            platforms = LIST_PLATFORMS.get(doc_list.name or "")
            for doc_id in doc_list.ids:
                if doc_id not in REGISTRY:
                    continue  # reported by the exact-set test
                node = REGISTRY.get(doc_id)
                if node.category is not SECTIONS[section.name]:
                    misplaced.append((doc_id, node.category.value, section.name))
                if platforms is not None and node.platform not in platforms:
                    misplaced.append((doc_id, node.platform.value, doc_list.name))
    assert not misplaced


def of_category(category: NodeCategory) -> list[NodeType]:
    return [t for t in REGISTRY if t.category is category]


def platform_actions() -> list[NodeType]:
    return [t for t in of_category(NodeCategory.action) if t.platform in PLATFORM_PREFIXES]


def node_id(node: NodeType) -> str:
    return node.id


@pytest.mark.parametrize("node", of_category(NodeCategory.trigger), ids=node_id)
def test_trigger_example_is_a_platform_event(node: NodeType) -> None:
    assert node.example_payload is not None
    event = PlatformEvent.model_validate(node.example_payload)
    assert event.kind == node.id
    assert event.platform == EVENT_PLATFORMS[node.platform]
    if node.platform is NodePlatform.general:
        assert event.connector is None
    else:
        assert event.connector == node.platform.value
        assert "instance_id" in node.params.model_fields, "which bot or account listens"
    # Stored as the execution's trigger data: it must survive JSON as it is.
    assert json.loads(json.dumps(node.example_payload)) == node.example_payload


@pytest.mark.parametrize("node", platform_actions(), ids=node_id)
def test_platform_action_calls_its_connector_action(node: NodeType) -> None:
    assert node.action == node.id.removeprefix(PLATFORM_PREFIXES[node.platform])
    assert node.handles == ("next",)
    instance = node.params.model_fields["instance_id"]
    assert instance.default is None, "empty instance: the one that triggered the flow"
    for model in nested_models(node.params):
        for name, info in model.model_fields.items():
            assert info.examples, f"{model.__name__}.{name} has no examples"


def nested_models(model: type[BaseModel]) -> list[type[BaseModel]]:
    """The model and the models its fields hold (buttons, embeds...), each once."""
    found: list[type[BaseModel]] = []
    pending = [model]
    while pending:
        current = pending.pop()
        if current in found:
            continue
        found.append(current)
        for info in current.model_fields.values():
            pending.extend(_models_in(info.annotation))
    return found


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


@pytest.mark.parametrize("node", list(REGISTRY), ids=node_id)
def test_params_are_documented_and_defaults_valid(node: NodeType) -> None:
    schema = node.params.model_json_schema()
    for model_schema in [schema, *schema.get("$defs", {}).values()]:
        for name, prop in model_schema.get("properties", {}).items():
            assert prop.get("description"), f"{model_schema.get('title')}.{name} has no description"
    for model in nested_models(node.params):
        if any(info.is_required() for info in model.model_fields.values()):
            continue
        try:
            model()
        except ValidationError as error:
            # Each default is valid; only a rule across fields may still ask for a choice
            # (schedule: cron or interval_seconds).
            field_errors = [e for e in error.errors() if e["loc"]]
            assert not field_errors, f"{model.__name__}: {field_errors}"
