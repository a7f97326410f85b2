"""Pure tests: no network, no broker, no database."""
