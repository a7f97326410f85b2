"""The test suite: `unit/` (pure), `integration/` (real broker and PostgreSQL), `e2e/` (the whole
`cardpulse up`), shared helpers and fixtures in `support/`."""

import pytest

# The support modules assert too (a tenant was made, a stack came up): with pytest's messages.
pytest.register_assert_rewrite("tests.support")
