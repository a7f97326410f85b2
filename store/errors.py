"""What the store refuses, as exceptions the API maps to HTTP answers in one place."""

from __future__ import annotations


class NotFound(Exception):
    """No such object (or not visible to the caller); `what` names it for the message."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")
        self.what = what


class AlreadyExists(Exception):
    """The object's id is taken; `what` names it for the message."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} already exists")
        self.what = what


class Invalid(Exception):
    """The change breaks a rule for `field`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Rejected(Exception):
    """PostgreSQL refused the data itself (a value its types cannot hold): retrying the same
    data cannot succeed, so the caller sets it aside."""
