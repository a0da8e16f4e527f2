"""What the billing demo sells and how its desk behaves: an Indian physiotherapy clinic's price
list (sessions exempt from GST under their SAC code, products taxed under their HSN code, packs,
a senior citizens' price) and the shares and choices the desk's days are drawn with."""

from __future__ import annotations

from dataclasses import dataclass

SAC_PHYSIO = "999314"  # Nursing and physiotherapeutic services: exempt healthcare
PRICES_SINCE_DAYS = 180  # The price list's first prices, before the oldest dues
PRICE_RISE_DAYS = 60  # The session went from 700 to 800 rupees then
SENIOR_AGE = 60
# Days before today with older courses of treatment (Sundays move to Saturday): their unpaid
# parts are the 90+, 61-90 and 31-60 day dues of the follow-up list.
HISTORY_DAYS = (104, 97, 83, 76, 69, 55, 48, 41, 34)
BILLED_SHARE = 0.9  # of a past day's attended sessions; the rest still wait at checkout
BILLED_SHARE_TODAY = 0.5
PRODUCTS = ("TAPE", "BAND", "KNEE", "LSB", "ROLLER")
INSURERS = ("Star Health", "HDFC ERGO", "Niva Bupa", "ICICI Lombard", "Care Health")
DISCOUNT_REASONS = ("Corporate tie-up", "Staff family", "Hardship, approved at the desk")
DRAWER_DIFFERENCES = (
    (-5000, "₹50 short: change given to a patient without a receipt."),
    (2000, "₹20 over: a patient left the change."),
    (-10000, "₹100 short: courier paid from the drawer; voucher to follow."),
)


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    price: int  # paise
    kind: str = "service"
    tax_rate_bp: int = 0
    tax_code: str = SAC_PHYSIO
    pack_of: str = ""
    sessions: int = 0
    validity_days: int = 0


PRICE_LIST = (
    Item("ASSESS60", "Initial assessment (60 min)", 120000),
    Item("PT45", "Physiotherapy session (45 min)", 70000),
    Item("REV30", "Review consultation (30 min)", 50000),
    Item("ESWT30", "Shockwave therapy (30 min)", 150000),
    Item("CLASS60", "Back-care group class (60 min)", 40000),
    Item("HOME60", "Home visit physiotherapy (60 min)", 150000),
    Item("TAPE", "Kinesiology tape, 5 cm x 5 m", 45000, "product", 1200, "3005"),
    Item("KNEE", "Hinged knee brace", 95000, "product", 1200, "9021"),
    Item("LSB", "Lumbar support belt", 145000, "product", 1200, "9021"),
    Item("BAND", "Resistance band set", 35000, "product", 1800, "9506"),
    Item("ROLLER", "Foam roller, 45 cm", 120000, "product", 1800, "9506"),
    Item(
        "PT45X6",
        "Pack of 6 physiotherapy sessions",
        450000,
        "package",
        0,
        SAC_PHYSIO,
        "PT45",
        6,
        60,
    ),
    Item(
        "PT45X10",
        "Pack of 10 physiotherapy sessions",
        700000,
        "package",
        0,
        SAC_PHYSIO,
        "PT45",
        10,
        90,
    ),
)
PRICE_RISES = (("PT45", 80000),)  # code, new standard price from PRICE_RISE_DAYS ago
CONCESSIONS = (("PT45", "senior", 60000),)  # code, category, price from the first day
