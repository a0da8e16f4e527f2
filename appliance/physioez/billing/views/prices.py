"""The price list: services, products and packs, with dated prices and concessions."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for

from physioez.billing.api import schemas
from physioez.billing.models import SERVICE_KINDS
from physioez.billing.request_policy import policy
from physioez.billing.services import pricing
from physioez.billing.views import bp, refused, typed_in
from physioez.core.kernel.errors import ServiceError
from physioez.core.web.access import current_actor, requires
from physioez.core.web.boundary import parse_form


@bp.get("/prices")
@requires("billing.prices.manage")
def price_list():
    return _prices_page()


def _prices_page(*, failed: str = "", refusal: ServiceError | None = None) -> str:
    return render_template(
        "billing/prices.html",
        listed=pricing.price_list(policy().today()),
        kinds=SERVICE_KINDS,
        today=policy().today(),
        **typed_in(failed, refusal),
    )


@bp.post("/prices")
@requires("billing.prices.manage")
def price_add():
    try:
        wanted = parse_form(schemas.ServiceIn)
        service = pricing.create_service(
            current_actor(),
            **wanted.model_dump(exclude={"valid_from"}),
            valid_from=wanted.valid_from or policy().today(),
        )
    except ServiceError as exc:
        return refused(exc, _prices_page, failed="add")
    flash(f"{service.name} ({service.code}) is on the price list.", "success")
    return redirect(url_for("billing.price_list"))


@bp.post("/prices/<code>")
@requires("billing.prices.manage")
def price_change(code: str):
    try:
        service = pricing.get_service(code)
        wanted = parse_form(schemas.PriceIn)
        valid_from = wanted.valid_from or policy().today()
        pricing.set_price(
            current_actor(),
            service,
            amount=wanted.price,
            valid_from=valid_from,
            category=wanted.category,
        )
    except ServiceError as exc:
        return refused(exc, _prices_page, failed=code)
    flash(f"New price for {service.name} from {valid_from:%d %b %Y}.", "success")
    return redirect(url_for("billing.price_list"))
