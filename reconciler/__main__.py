"""`python -m reconciler`: the same entry point as the `pim-reconciler` console script."""

from reconciler.cli import main

main()
