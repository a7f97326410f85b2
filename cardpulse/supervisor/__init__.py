"""`cardpulse up`: the supervisor, its child processes and the embedded broker and
PostgreSQL."""
