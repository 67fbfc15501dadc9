"""Scenarios injected into traffic: the founding story and classic fraud patterns."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from ingestion.contracts import Event, Transaction
from ingestion.simulator.traffic import Simulator, local_rate
from ingestion.simulator.world import CITY_BY_NAME, JOHN, ONLINE_MERCHANTS

#: An ATM by King's Cross, London, and a cafe in Le Marais, Paris: 345.6 km apart.
LONDON_ATM = (51.5308, -0.1238)
PARIS_CAFE = (48.8566, 2.3522)
STORY_GAP_S = 40


def london_paris(sim: Simulator) -> list[Event]:
    """John's card takes cash out in London, then buys coffee in Paris 40 s later."""
    card = JOHN.cards[0]
    atm_at = sim._advance(1.0)
    atm = sim._tx(
        JOHN,
        card,
        atm_at,
        "ATM King's Cross",
        "atm",
        "atm",
        200.0,
        CITY_BY_NAME["London"],
        at=LONDON_ATM,
    )
    coffee_at = sim._advance(STORY_GAP_S)
    coffee = sim._tx(
        JOHN,
        card,
        coffee_at,
        "Café Les Deux Tours",
        "coffee",
        "card_present",
        4.8,
        CITY_BY_NAME["Paris"],
        at=PARIS_CAFE,
    )
    return [atm, coffee]


def card_testing(sim: Simulator, attempts: int = 12) -> list[Event]:
    """A stolen card number tried with tiny online payments at many merchants in a minute."""
    victim = sim.rng.choice(sim.customers[1:] or sim.customers)
    card = victim.cards[0]
    out: list[Event] = []
    for i in range(attempts):
        name, category, _typical = ONLINE_MERCHANTS[i % len(ONLINE_MERCHANTS)]
        when = sim._advance(sim.rng.uniform(1.0, 6.0))
        amount = sim.rng.choice((0.5, 1.0, 1.0, 1.5, 2.0))
        out.append(sim._tx(victim, card, when, name, category, "card_not_present", amount, None))
    return out


def amount_spike(sim: Simulator) -> list[Event]:
    """One card-present purchase at 40x the customer's usual amount, at home."""
    victim = sim.rng.choice(sim.customers[1:] or sim.customers)
    usual = float(victim.usual_amount or Decimal(50))
    tx: Transaction = sim._tx(
        victim,
        victim.cards[0],
        sim._advance(2.0),
        "Bijoux Royale",
        "jewellery",
        "card_present",
        usual * 40 * local_rate(victim.home),
        victim.home,
    )
    return [tx]


def storm(sim: Simulator) -> list[Event]:
    """A severe storm warning for London (John's city) and the north plant, sent twice:
    the feed repeats itself, Vigil must alert once."""
    signal = sim.severe_signal("London", sites=["plant-north"])
    repeat = signal.model_copy(update={"event_id": sim._id("evt")})
    return [signal, repeat]


def pump_failure(sim: Simulator) -> list[Event]:
    """Three days of readings from every asset while pump-03's bearing wears out."""
    readings, _failure_at = sim.asset_run()
    return [*sim.maintenance_history(), *readings]


SCENARIOS: dict[str, Callable[[Simulator], list[Event]]] = {
    "london-paris": london_paris,
    "card-testing": card_testing,
    "storm": storm,
    "pump-failure": pump_failure,
    "amount-spike": amount_spike,
}
