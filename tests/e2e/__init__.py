"""End-to-end tests against a real `cardpulse up`."""
