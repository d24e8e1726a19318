"""Desired-state loading: YAML files -> `reconciler.desired.model.DesiredState` plus problems.

The only package that knows YAML (via `reconciler.config.yamlsafe`) and JSON Schema.
"""

from reconciler.config.loader import SETTINGS_FILE, find_files, load_desired

__all__ = ["SETTINGS_FILE", "find_files", "load_desired"]
