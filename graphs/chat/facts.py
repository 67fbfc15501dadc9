"""What the bank computes before the model speaks: an offer's eligibility, checked rule by
rule against the signed-in customer's profile (the rules are data: ``prompt.yaml``), so a
small model only has to say it, not work it out.

A rule that needs a field the profile does not hold is never guessed: the fact says it is
checked when the customer applies."""

from __future__ import annotations

import functools
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

PROMPT = Path(__file__).with_name("prompt.yaml")


@functools.cache
def prompt() -> dict[str, Any]:
    """The chat graph's words and rules (``prompt.yaml``), read once."""
    data: dict[str, Any] = yaml.safe_load(PROMPT.read_text())
    return data


def _number(value: Any) -> float | None:
    """A profile figure as a number: an int, float or Decimal that is finite (a string, a
    boolean or NaN is not one)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def eligibility(offer_id: str, profile: dict[str, Any] | None) -> list[str]:
    """The offer's rules against the profile, one line each, and the verdict: eligible
    (every rule the profile shows is met), not eligible (naming the rules that fail), or
    unknown without a profile."""
    offer = prompt()["offers"].get(offer_id)
    if offer is None:
        return []
    name = offer["name"]
    if not profile:
        return [f"{name}: no customer profile, so eligibility cannot be checked here."]
    lines, failed, unknown = [], [], []
    for rule in offer["rules"]:
        if "unchecked" in rule:
            lines.append(f"- '{rule['unchecked']}': not in the profile; checked on application")
            continue
        field, says = rule["field"], rule["says"]
        value = _number(profile.get(field))
        if value is None:
            unknown.append(says)
            why = "has no" if profile.get(field) is None else "has no number for"
            lines.append(f"- '{says}': the profile {why} {field}; checked on application")
        elif value >= rule["at_least"]:
            lines.append(f"- '{says}': met ({field} {profile[field]})")
        else:
            failed.append(f"{says} ({field} is {profile[field]})")
            lines.append(f"- '{says}': NOT met ({field} {profile[field]})")
    if failed:
        verdict = f"NOT eligible for {name}: fails {'; '.join(failed)}."
    else:
        verdict = f"Eligible for {name} on every rule the profile shows" + (
            f" (still to check: {', '.join(unknown)})." if unknown else "."
        )
        for extra in offer.get("extras", ()):
            if profile.get(extra["field"]) in extra["one_of"]:
                verdict += f" Also: {extra['says']}."
        verdict += f" Terms: {offer['terms']}."
    return [f"{name}, checked by the bank against this customer's profile:", *lines,
            f"Result: {verdict}"]  # fmt: skip


def facts(profile: dict[str, Any] | None, passages: list[dict[str, Any]]) -> list[str]:
    """The computed facts for the offers among the passages (in their order, once each)."""
    found = (p.get("doc_id") for p in passages)
    offers = dict.fromkeys(d for d in found if isinstance(d, str) and d in prompt()["offers"])
    return [line for offer in offers for line in eligibility(offer, profile)]
