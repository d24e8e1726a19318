"""Renderers: text (rich), markdown (PR comments, job summaries) and JSON, all from one `Plan`."""
