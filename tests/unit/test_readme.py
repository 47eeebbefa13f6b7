"""The README stays true: its configuration table is the one generated from the code."""

from pathlib import Path

from engine.settings_doc import settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_documents_every_setting() -> None:
    assert settings_table() in README.read_text(), (
        "README.md's configuration table is out of date: paste the output of "
        "`python -m engine.settings_doc`"
    )


def test_readme_starts_with_the_two_commands() -> None:
    head = README.read_text()[:1500]
    assert "scripts/start.sh" in head and "scripts/test.sh" in head
