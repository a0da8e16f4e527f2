"""One boundary for pages and the API: input read by the operation's pydantic model.

A page's form and its API twin are parsed by the same model (``core.kernel.bounds``' types
hold every field to its bounds), and a refusal is one ``InputRefused`` carrying the same
``{field: message}`` mapping either way: the API answers it as JSON 422, a page re-renders
its form with the message, like any other ``ServiceError``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from physioez.core.kernel.bounds import Bounds, Inbound
from physioez.core.kernel.errors import InvalidInput
from physioez.core.web.branch import current_settings

Model = TypeVar("Model", bound=BaseModel)

# Pydantic's own wording, where a person at the desk would not know what it means.
_PLAIN_MESSAGES = {
    "missing": "Fill this in.",
    "int_parsing": "Enter a whole number.",
    "int_type": "Enter a whole number.",
    "int_from_float": "Enter a whole number.",
    "date_parsing": "Enter the date as YYYY-MM-DD.",
    "date_from_datetime_parsing": "Enter the date as YYYY-MM-DD.",
    "date_from_datetime_inexact": "Enter the date as YYYY-MM-DD.",
    "date_type": "Enter the date as YYYY-MM-DD.",
    "datetime_parsing": "Enter a date and time such as 2026-11-23T10:00:00+05:30.",
    "datetime_from_date_parsing": "Enter a date and time such as 2026-11-23T10:00:00+05:30.",
    "timezone_aware": "Give the time with its offset, such as +05:30.",
    "literal_error": "Choose one of the offered options.",
    "enum": "Choose one of the offered options.",
    "bool_parsing": "Answer yes or no.",
    "extra_forbidden": "This field is not expected here.",
    "too_long": "That is more entries than this field takes.",
    "too_short": "Fill in at least one.",
}


class InputRefused(InvalidInput):
    """Input that does not fit the operation's model, with each problem at its field."""

    def __init__(self, problems: dict[str, str]) -> None:
        first = next(iter(problems), None)
        if len(problems) == 1 and first:
            message = problems[first]
        else:
            message = "Please check: " + ", ".join(name.replace("_", " ") for name in problems)
        super().__init__(message, field=first)
        self.problems = problems

    @property
    def fields(self) -> dict[str, str]:
        return self.problems


def problems_of(
    error: ValidationError, model: type[BaseModel] | None = None, values: Any = None
) -> dict[str, str]:
    """``{field: message}`` for each problem, in words for the person at the screen; with
    ``model``, at the form's field for it (``values`` is what the form was read as)."""
    problems: dict[str, str] = {}
    for problem in error.errors():
        loc = problem["loc"]
        name = ".".join(str(part) for part in loc) or "body"
        if model is not None and loc:
            name = model.form_field(loc, values) if issubclass(model, Inbound) else str(loc[0])
        problems.setdefault(name, _message(problem))
    return problems


def _message(problem: ErrorDetails) -> str:
    kind = problem["type"]
    if kind == "value_error":
        return str(problem["ctx"]["error"]) if "ctx" in problem else problem["msg"]
    if kind == "string_too_long":
        return f"Use at most {problem['ctx']['max_length']} characters."
    if kind in ("string_too_short", "missing") and problem.get("input") in ("", None):
        return "Fill this in."
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        limit = next(iter(problem["ctx"].values()))
        word = "at least" if kind.startswith("greater") else "at most"
        return f"Enter a number {word} {limit}."
    if kind == "multiple_of":
        return f"Enter a multiple of {problem['ctx']['multiple_of']}."
    return _PLAIN_MESSAGES.get(kind, problem["msg"])


def bounds() -> Bounds:
    """The branch's bounds for this request: its today, limits and currency."""
    return Bounds.of(current_settings())


def validate(model: type[Model], data: Any, *, form: bool = False) -> Model:
    """``data`` as ``model``, or ``InputRefused`` naming each problem."""
    try:
        return model.model_validate(data, context=bounds().context(form=form))
    except ValidationError as error:
        raise InputRefused(problems_of(error, model if form else None, data)) from None


def parse_form(model: type[Model], form: Any = None) -> Model:
    """The posted form (``request.form`` unless given) read by ``model``, the API's model."""
    form = request.form if form is None else form
    if issubclass(model, Inbound):
        data = model.form_values(form, bounds())
    else:
        data = {name: form.get(name) for name in model.model_fields if name in form}
    return validate(model, data, form=True)


def validate_value(kind: Any, value: Any, field: str) -> Any:
    """One value as a bounded type (``bounds.Day``, ``bounds.BookingStart``), refused at
    ``field``: for inputs a page reads outside a model, such as a query's day."""
    try:
        return TypeAdapter(kind).validate_python(value, context=bounds().context(form=True))
    except ValidationError as error:
        raise InputRefused({field: _message(error.errors()[0])}) from None
