"""Stand-ins for the outside world: the operator API simulator (three dialects, fault
knobs) and generators of fleet usage and push load."""
