"""pim-reconciler: declarative GitOps reconciler for Microsoft Entra ID PIM for Groups."""

__version__ = "0.1.0"
