"""The configuration table of the README, generated from the settings model.

`python -m engine.settings_doc` prints it; a test checks the README carries it verbatim,
so the documented variables, defaults and meanings cannot drift from the code.
"""

from __future__ import annotations

from pydantic_core import PydanticUndefined

from engine.settings import Settings


def env_name(field_name: str) -> str:
    field = Settings.model_fields[field_name]
    if field.validation_alias is not None:
        # Settings declares each alias as AliasChoices, whose first choice is the name.
        return str(field.validation_alias.choices[0])  # type: ignore[union-attr]  # see above
    return f"FLOWBOT_{field_name.upper()}"


def _default(field_name: str) -> str:
    field = Settings.model_fields[field_name]
    if field.default is PydanticUndefined:
        value = field.default_factory() if field.default_factory else ""  # type: ignore[call-arg]  # no-argument factories only
    else:
        value = field.default
    return "(unset)" if value is None else f"`{value}`"


def settings_table() -> str:
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        rows.append(f"| `{env_name(name)}` | {_default(name)} | {field.description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())
