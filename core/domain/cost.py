"""Optional cost: an Infracost JSON report (``infracost breakdown|diff --format json``) read into ``Cost``.

The monthly cost is ``totalMonthlyCost``; the delta is ``diffTotalMonthlyCost`` when the report
has it, else ``totalMonthlyCost - pastTotalMonthlyCost`` when both are known. Infracost writes
amounts as decimal strings (older reports) or numbers; ``null`` means unknown. Anything that is
not such a report raises ``InvalidCost`` saying why.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from core.domain.errors import TfPilotError
from core.domain.request import Cost

SOURCE: Final = "infracost"
_CURRENCY_RE: Final = re.compile(r"^[A-Z]{3}$")


class InvalidCost(TfPilotError, ValueError):
    """The document is not an Infracost JSON report."""


def parse_cost(doc: Any) -> Cost:
    if not isinstance(doc, dict):
        raise InvalidCost(f"not an Infracost report: expected a JSON object, got {type(doc).__name__}")
    if "totalMonthlyCost" not in doc:
        raise InvalidCost("not an Infracost report: no totalMonthlyCost")
    total = _amount(doc, "totalMonthlyCost")
    past = _amount(doc, "pastTotalMonthlyCost")
    diff = _amount(doc, "diffTotalMonthlyCost")
    if diff is None and total is not None and past is not None:
        diff = total - past
    currency = doc.get("currency") or "USD"
    if not isinstance(currency, str) or not _CURRENCY_RE.match(currency):
        raise InvalidCost(f"invalid Infracost report: currency {str(currency)[:20]!r} is not an ISO 4217 code")
    return Cost(
        monthly_cost=None if total is None else float(total),
        monthly_delta=None if diff is None else float(diff),
        currency=currency,
        source=SOURCE,
    )


def load_cost(raw: str | bytes) -> Cost:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCost(f"not an Infracost report: invalid JSON ({exc})") from exc
    return parse_cost(doc)


def _amount(doc: dict[str, Any], key: str) -> Decimal | None:
    value = doc.get(key)
    if value is None or value == "":
        return None
    # bool is an int to Python but never an amount.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidCost(f"invalid Infracost report: {key} must be a number or a decimal string")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidCost(f"invalid Infracost report: {key} is not finite")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise InvalidCost(f"invalid Infracost report: {key} {str(value)[:30]!r} is not a number") from exc
    if not amount.is_finite():
        raise InvalidCost(f"invalid Infracost report: {key} is not finite")
    return amount
