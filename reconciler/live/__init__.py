"""Live state: frozen, typed values of what the tenant holds, as read by `reconciler.graph`."""
