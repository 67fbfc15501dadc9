"""A labelled card-fraud simulation: weeks of genuine shopping with fraud mixed in, and
the labels that tell, late, which payments were fraud.

Genuine shoppers keep their habits (``fraud_world``): heavy-tailed amounts around their
own level, terminals near home, their hours and week days, online orders delivered home,
now and then a trip abroad (timed so a flight could make it) or a big purchase. Fraud
comes as cases, each on one card, of these kinds (``SCENARIOS``):

- ``stolen_card``: a physical card taken near home and used there in a burst, for more
  than its owner spends, until it is stopped (its owner stops using it);
- ``skimmed``: cards read at a compromised terminal, cloned and cashed out days later at
  a few terminals of the ring, in another city;
- ``cnp_stolen_number``: the card's number used online, delivered far from home;
- ``card_testing``: tiny online payments in a minute or two, then a large order;
- ``account_takeover``: the customer's card used online at night for gift cards and
  digital goods, far above their usual;
- ``impossible_travel``: a clone used abroad hours after the real card was used at home;
- ``amount_spike``: one purchase near home many times the customer's usual.

Labels come as ``FraudLabel`` events: every fraudulent payment's chargeback, days later;
for half of the cases the customer reports the payments sooner; a few genuine payments
are confirmed genuine by their customer. Seeded: one seed gives the same history.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ingestion.contracts import CustomerChange, CustomerProfilePatch, FraudLabel, Transaction
from ingestion.simulator.fraud_cases import (
    DAY,
    SCENARIOS,
    FraudCases,
    _Draft,
    _near,
    _poisson,
)
from ingestion.simulator.fraud_world import ONLINE, PRESENT, FraudWorld, Shopper, Terminal, _pick
from ingestion.simulator.units import _FLIGHT_KMH, _km, _money, check_run_id
from ingestion.simulator.world import CITIES
from vigil.settings import FX_PER_GBP


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment with its truth: ``scenario`` None for a genuine one; ``case`` names the
    compromised card's case (its fraudulent payments share it)."""

    tx: Transaction
    scenario: str | None = None
    case: str | None = None

    @property
    def fraud(self) -> bool:
        return self.scenario is not None


@dataclass(frozen=True)
class FraudHistory:
    start: datetime
    days: int
    profiles: list[CustomerChange]
    payments: list[Payment]  # in time order
    labels: list[FraudLabel]  # in the order they became known

    def day_of(self, when: datetime) -> int:
        """0 for the first simulated day."""
        return int((when - self.start).total_seconds() // 86400)


class FraudSimulation(FraudCases):
    def __init__(
        self,
        seed: int = 11,
        shoppers: int = 500,
        days: int = 30,
        start: datetime | None = None,
        run: str | None = None,
        case_rate: float = 0.02,
    ) -> None:
        """``case_rate``: fraud cases per card per day (about 5 payments each)."""
        if shoppers < 1 or days < 1:
            raise ValueError("need at least one shopper and one day")
        self.rng = random.Random(seed)
        self.tag = f"{seed}{check_run_id(run)}" if run else str(seed)
        self.start = (start or datetime(2026, 1, 5, tzinfo=UTC)).astimezone(UTC)
        self.days = days
        self.case_rate = case_rate
        self.world = FraudWorld(self.rng, shoppers, self.tag)
        self._n = 0

    # -- genuine habits ------------------------------------------------------------------

    def _genuine_day(
        self, who: Shopper, day: int, where: tuple[Terminal, ...] | None, out: list[_Draft]
    ) -> None:
        """One day of ``who``'s payments; ``where``: the terminals of a trip (None: home)."""
        rng = self.rng
        midnight = self.start + day * DAY
        n = _poisson(rng, who.per_day * who.weekday[midnight.weekday()])
        local = round(who.home[1] / 15) if where is None else round((where[0].lon or 0) / 15)
        for _ in range(n):
            hour = min(max(rng.gauss(who.peak_hour, who.hour_width), 6.0), 23.9)
            when = midnight + timedelta(hours=hour - local, seconds=rng.random())
            card = rng.choice(who.cards)
            if rng.random() < who.online_share:
                category = _pick(rng, who.online_mix)
                level, _f, _names, delivered = ONLINE[category]
                shop = rng.choice(self.world.web[category])
                to = None
                if delivered:  # home, mostly; sometimes work or a friend nearby
                    to = who.home if rng.random() < 0.85 else _near(rng, who.home, 30)
                amount = self._amount(who, level)
                out.append(_Draft(when, who, card, shop, amount, "card_not_present", to))
                continue
            if where is None:
                terminal = (
                    rng.choice(who.favourites)
                    if rng.random() < 0.8
                    else rng.choice(self.world.near(who.city, who.home, 30))
                )
            else:
                terminal = rng.choice(where)
            level = PRESENT[terminal.category][0]
            if rng.random() < 0.006:  # the occasional big purchase
                level *= rng.uniform(4, 12)
            channel = "atm" if terminal.category == "atm" else "card_present"
            out.append(_Draft(when, who, card, terminal, self._amount(who, level), channel))

    def _genuine(self) -> list[_Draft]:
        out: list[_Draft] = []
        rng = self.rng
        for who in self.world.shoppers:
            day = 0
            while day < self.days:
                if rng.random() < 1 / 50 and day + 2 < self.days:
                    day = self._trip(who, day, out)
                    continue
                self._genuine_day(who, day, None, out)
                day += 1
        return out

    def _trip(self, who: Shopper, day: int, out: list[_Draft]) -> int:
        """A trip abroad from ``day``: the first and last days spent travelling (online
        payments only), the days between in another city. Returns the day after."""
        rng = self.rng
        dest = rng.choice([c for c in CITIES if c.name != who.city.name])
        hours = _km(who.home, (dest.lat, dest.lon)) / _FLIGHT_KMH + 3
        stay = rng.randint(2, 6)
        travel_days = max(1, math.ceil(hours / 24))
        hotel = (dest.lat, dest.lon)
        where = tuple(self.world.near(dest, hotel, 8))
        for d in range(day, min(day + travel_days, self.days)):
            self._online_only(who, d, out)
        first = day + travel_days
        for d in range(first, min(first + stay, self.days)):
            self._genuine_day(who, d, where, out)
        back = first + stay
        for d in range(back, min(back + travel_days, self.days)):
            self._online_only(who, d, out)
        return back + travel_days

    def _online_only(self, who: Shopper, day: int, out: list[_Draft]) -> None:
        mine: list[_Draft] = []
        self._genuine_day(who, day, None, mine)
        out.extend(d for d in mine if d.channel == "card_not_present")

    # -- events ----------------------------------------------------------------------------

    def run(self) -> FraudHistory:
        genuine = self._genuine()
        fraud = self._cases(genuine)
        end = self.start + self.days * DAY
        stolen: dict[str, datetime] = {}
        for d in fraud:
            if d.scenario == "stolen_card":
                stolen[d.card] = min(stolen.get(d.card, d.when), d.when)
        kept = [d for d in genuine if d.card not in stolen or d.when < stolen[d.card]]
        drafts = sorted((d for d in kept + fraud if d.when < end), key=lambda d: d.when)
        known = self._known(drafts)
        # a card whose fraud became known is replaced: its owner pays with the new one from
        # then on (what the thieves try on the old one is still theirs)
        reissued: dict[str, datetime] = {}
        for k, (at, _source, scenario) in known.items():
            if scenario is not None:
                card = drafts[k].card
                reissued[card] = min(reissued.get(card, at), at)
        for d in drafts:
            if d.scenario is None and d.card in reissued and d.when >= reissued[d.card]:
                d.card = f"{d.card}-r"
        payments = [Payment(self._tx(d), d.scenario, d.case) for d in drafts]
        labels = [
            FraudLabel(
                event_id=self._id("lbl"),
                transaction_id=payments[k].tx.transaction_id,
                known_at=at,
                label="genuine" if scenario is None else "fraud",
                source=source,
                scenario=scenario,
            )
            for k, (at, source, scenario) in known.items()
        ]
        labels.sort(key=lambda x: x.known_at)
        return FraudHistory(self.start, self.days, self._profiles(), payments, labels)

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}-{self.tag}-{self._n:08d}"

    def _tx(self, d: _Draft) -> Transaction:
        t = d.terminal
        currency = (t.city or d.who.city).currency
        return Transaction(
            event_id=self._id("evt"),
            transaction_id=self._id("ftx"),
            user_id=d.who.customer_id,
            card_id=d.card,
            timestamp=d.when,
            amount=_money(d.gbp * FX_PER_GBP[currency], currency),
            currency=currency,
            merchant=t.merchant,
            merchant_category=t.category.removeprefix("online_"),
            channel=d.channel,
            lat=t.lat,
            lon=t.lon,
            city=t.city.name if t.city else None,
            country=t.city.country if t.city else None,
            terminal_id=t.terminal_id,
            delivery_lat=d.delivery[0] if d.delivery else None,
            delivery_lon=d.delivery[1] if d.delivery else None,
        )

    def _profiles(self) -> list[CustomerChange]:
        return [
            CustomerChange(
                event_id=self._id("evt"),
                customer_id=w.customer_id,
                version=1,
                op="upsert",
                changed_at=self.start - DAY,
                profile=CustomerProfilePatch(
                    name=w.name,
                    home_city=w.city.name,
                    credit_score=w.credit_score,
                    cards=w.cards,
                    usual_amount=_money(w.level_gbp, "GBP"),
                    home_lat=w.home[0],
                    home_lon=w.home[1],
                ),
            )
            for w in self.world.shoppers
        ]

    def _known(self, drafts: list[_Draft]) -> dict[int, tuple[datetime, str, str | None]]:
        """Which payments get a label, when and from whom (by index in ``drafts``): every
        fraud a chargeback days later, or its customer's report sooner (half of the cases);
        3% of genuine payments their customer's confirmation."""
        rng = self.rng
        known: dict[int, tuple[datetime, str, str | None]] = {}
        reported: dict[str, datetime] = {}
        for k, d in enumerate(drafts):
            if d.case is not None and d.case not in reported and rng.random() < 0.5:
                reported[d.case] = d.when + timedelta(hours=rng.uniform(2, 48))
            if d.scenario is not None:
                chargeback = d.when + timedelta(days=min(rng.lognormvariate(1.6, 0.6), 60))
                by_customer = reported.get(d.case or "")
                if by_customer is not None and by_customer < chargeback:
                    known[k] = (max(by_customer, d.when), "customer", d.scenario)
                else:
                    known[k] = (chargeback, "chargeback", d.scenario)
            elif rng.random() < 0.03:
                known[k] = (d.when + timedelta(hours=rng.uniform(1, 72)), "customer", None)
        return known


__all__ = ["SCENARIOS", "FraudHistory", "FraudSimulation", "Payment"]
