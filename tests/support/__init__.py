"""Helpers shared by the tests (see each module)."""
