"""The Graph adapter: the only module that talks to Microsoft Graph (msgraph-sdk +
azure-identity). Entry points: `reconciler.targets.open_backend(Target, clock=...)`
yielding a `reconciler.graph.backend.GraphBackend`; errors in `reconciler.graph.errors`."""
