"""`python -m reconciler.emulator serve --state FILE`."""

from reconciler.emulator.cli import emulator

emulator(prog_name="python -m reconciler.emulator")
