"""The errors evaluation/ raises for expected failures, each with an HTTP-ish status.

The web layer maps them once to its JSON error shape; the command line prints the message.
Every message is one plain line a person can act on.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of the expected failures of evaluation/: the request cannot be done as asked."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(DomainError):
    """The input is malformed or out of range (an index beyond the log, a float in a payload…)."""

    status = 400


class NotFoundError(DomainError):
    """The thing asked for does not exist."""

    status = 404


class ConflictError(DomainError):
    """The request conflicts with the current state (a key for another origin, a stopped log…)."""

    status = 409


class InvalidStateError(ConflictError):
    """An object (tender, bid, session) is not in a state that allows this; the message names it."""


class IntegrityFailure(DomainError):
    """Stored or exported data fails a check against what was signed: tampering or corruption."""

    status = 422
