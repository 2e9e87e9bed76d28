"""Every command (the operator ones too) has help text and an entry in docs/cli.md that
names each of its options."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import typer
import typer.core

from cloudlet.cli.main import app

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
BUILT_IN = {"--help", "--install-completion", "--show-completion"}


Command = typer.core.TyperCommand | typer.core.TyperGroup


def walk(command: Command, path: tuple[str, ...] = ()) -> Iterator[
        tuple[tuple[str, ...], Command]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from walk(sub, (*path, name))


def options(command: Command) -> list[typer.core.TyperOption]:
    return [p for p in command.params if isinstance(p, typer.core.TyperOption)
            and p.opts[0] not in BUILT_IN]


def commands() -> list[tuple[str, Command]]:
    return [(" ".join(("cloudlet", *path)), cmd) for path, cmd in
            walk(cast(Command, typer.main.get_command(app)))]


def doc_sections() -> dict[str, str]:
    """`### cloudlet projects list` headings → the text under each."""
    parts = re.split(r"^###\s+`?(cloudlet[\w -]*?)`?\s*$", DOCS.read_text(), flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_command_has_help() -> None:
    missing = [name for name, cmd in commands() if not (cmd.help or "").strip()]
    assert missing == []


def test_every_option_and_argument_has_help() -> None:
    missing = [f"{name} {param.name}" for name, cmd in commands() for param in cmd.params
               if isinstance(param, typer.core.TyperOption | typer.core.TyperArgument)
               and not set(getattr(param, "opts", [])) & BUILT_IN
               and not (param.help or "").strip()]
    assert missing == []


def test_every_command_and_option_is_in_the_docs() -> None:
    sections = doc_sections()
    missing = [name for name, _ in commands() if name not in sections]
    assert missing == []
    undocumented = [
        f"{name} {opt}"
        for name, cmd in commands()
        for option in options(cmd)
        for opt in option.opts
        if opt.startswith("--") and f"`{opt}" not in sections[name]
    ]
    assert undocumented == []


def test_the_docs_describe_no_command_that_does_not_exist() -> None:
    assert sorted(set(doc_sections()) - {name for name, _ in commands()}) == []
