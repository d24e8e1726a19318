"""Planning: pure functions from (desired, live, now) to a `Plan` of changes and problems."""
