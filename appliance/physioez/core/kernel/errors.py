"""Errors that services raise for people to read; the web layer turns them into 4xx answers.

Each carries a message a receptionist can act on and, when one input is at fault, the name
of that field so a form can point at it.
"""

from __future__ import annotations


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def fields(self) -> dict[str, str]:
        return {self.field: self.message} if self.field else {}


class InvalidInput(ServiceError):
    status = 422


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class Forbidden(ServiceError):
    status = 403


class TooManyAttempts(ServiceError):
    status = 429
