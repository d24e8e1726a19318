"""A local, wire-faithful emulator of the Microsoft Graph v1.0 endpoints PIM for Groups uses.

Built from graph-pim-reference.md (sections 1-4, 7, checklist 8), independently of the
planner. Entry points: `tenant.Tenant` (state), `app.create_app` (ASGI), `server.serve` /
`server.running_server` (uvicorn), `cli.emulator` (click group).
"""
