"""The desired model: frozen, typed values of what the files declare (no I/O)."""
