"""The price list: services, products and packs, with dated prices and concessions."""

from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for

from physioez.billing.models import SERVICE_KINDS
from physioez.billing.request_policy import policy
from physioez.billing.services import pricing
from physioez.billing.views import bp, form_amount
from physioez.core.kernel.errors import InvalidInput, ServiceError
from physioez.core.web.access import current_actor, requires


def _date(text: str | None) -> date:
    if not text:
        return policy().today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput("Give the date as YYYY-MM-DD.", field="valid_from") from None


def _int(form, name: str, default: int = 0) -> int:
    text = (form.get(name) or "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise InvalidInput("Enter a whole number.", field=name) from None


def _tax_bp(form) -> int:
    text = (form.get("tax_rate") or "0").strip()
    try:
        return round(float(text) * 100)
    except ValueError:
        raise InvalidInput("Give the tax rate in percent, e.g. 18.", field="tax_rate") from None


@bp.get("/prices")
@requires("billing.prices.manage")
def price_list():
    return render_template(
        "billing/prices.html",
        listed=pricing.price_list(policy().today()),
        kinds=SERVICE_KINDS,
        today=policy().today(),
    )


@bp.post("/prices")
@requires("billing.prices.manage")
def price_add():
    form = request.form
    try:
        service = pricing.create_service(
            current_actor(),
            code=form.get("code", ""),
            name=form.get("name", ""),
            kind=form.get("kind", "service"),
            price=form_amount(form, "price", required=True),
            valid_from=_date(form.get("valid_from")),
            tax_rate_bp=_tax_bp(form),
            tax_code=form.get("tax_code", ""),
            package_service_code=form.get("package_service_code", ""),
            package_sessions=_int(form, "package_sessions"),
            package_validity_days=_int(form, "package_validity_days"),
        )
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("billing.price_list"))
    flash(f"{service.name} ({service.code}) is on the price list.", "success")
    return redirect(url_for("billing.price_list"))


@bp.post("/prices/<code>")
@requires("billing.prices.manage")
def price_change(code: str):
    form = request.form
    try:
        service = pricing.get_service(code)
        pricing.set_price(
            current_actor(),
            service,
            amount=form_amount(form, "price", required=True),
            valid_from=_date(form.get("valid_from")),
            category=form.get("category", ""),
        )
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("billing.price_list"))
    flash(f"New price for {service.name} from {form.get('valid_from') or 'today'}.", "success")
    return redirect(url_for("billing.price_list"))
