"""pim-reconciler: declarative GitOps reconciler for Microsoft Entra ID PIM for Groups.

`__version__` is the installed distribution's version, which setuptools-scm derives from the
git tag at build time (`v1.2.3` -> `1.2.3`; between tags `1.2.4.devN+g<sha>`).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pim-reconciler")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0.0.0+unknown"
