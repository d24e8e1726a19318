"""Command line: a thin package of click commands, one module per command family, wiring
config -> graph -> plan -> render / apply. `main` is the console-script entry point."""

from __future__ import annotations

from reconciler.cli import access, apply, doctor, plan, reports, validate  # noqa: F401  (register)
from reconciler.cli.base import cli
from reconciler.emulator.cli import emulator

cli.add_command(emulator)

__all__ = ["cli", "main"]


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="pim-reconciler")
