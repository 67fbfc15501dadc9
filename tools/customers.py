"""Who may see which profile fields. The lookup tool returns nothing else."""

from __future__ import annotations

from typing import Any

from ingestion.profiles import CustomerProfile

FIELDS: dict[str, frozenset[str]] = {
    # the fraud agent needs what makes a payment unusual for this customer
    "fraud_agent": frozenset(
        {"customer_id", "segment", "home_city", "cards", "flags", "usual_amount", "tenure_years",
         "age", "updated_at", "version"}
    ),
    # the customer, through chat: what decides their offers, about themselves only
    "chat": frozenset(
        {"name", "segment", "credit_score", "tenure_years", "home_ownership", "updated_at"}
    ),
    # an analyst reviewing a case sees the whole record
    "analyst": frozenset(CustomerProfile.model_fields),
}  # fmt: skip


def visible(profile: CustomerProfile, audience: str) -> dict[str, Any]:
    allowed = FIELDS.get(audience)
    if allowed is None:
        raise ValueError(f"unknown audience {audience!r}; one of {sorted(FIELDS)}")
    data = profile.model_dump(mode="json", exclude_none=True)
    return {k: v for k, v in data.items() if k in allowed}
