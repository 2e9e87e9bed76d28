"""The README's configuration table names every setting the server reads."""

from __future__ import annotations

from pathlib import Path

from cloudlet.server.settings import describe

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    missing = [env for env, _, _ in describe() if f"| `{env}` |" not in README]
    assert missing == []


def test_the_two_commands_are_documented() -> None:
    assert "make run" in README and "make test" in README
