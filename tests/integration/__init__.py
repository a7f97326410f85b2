"""Tests against the real embedded broker and PostgreSQL (one per session, isolated per test)."""
