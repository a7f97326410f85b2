"""The test suite: `unit/` (pure), `integration/` (real broker and PostgreSQL), `e2e/` (the whole
`cardpulse up`), shared helpers and fixtures in `support/`."""
