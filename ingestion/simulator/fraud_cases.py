"""The fraud cases of the labelled simulation (``fraud``): each a kind of attack on one
card, drawn from the simulation's RNG (see ``fraud`` for what each kind is)."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from ingestion.simulator.fraud_world import ONLINE, PRESENT, FraudWorld, Shopper, Terminal
from ingestion.simulator.units import _km
from ingestion.simulator.world import CITIES

SCENARIOS = (
    "stolen_card",
    "skimmed",
    "cnp_stolen_number",
    "card_testing",
    "account_takeover",
    "impossible_travel",
    "amount_spike",
)
_WEIGHTS = (0.24, 0.0, 0.22, 0.12, 0.14, 0.12, 0.16)  # skimming comes from its rings
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


@dataclass(slots=True)
class _Draft:
    when: datetime
    who: Shopper
    card: str
    terminal: Terminal
    gbp: float
    channel: str
    delivery: tuple[float, float] | None = None
    scenario: str | None = None
    case: str | None = None


class FraudCases:
    """The attacks; the simulation supplies its RNG, world, clock and shoppers' amounts."""

    rng: random.Random
    world: FraudWorld
    tag: str
    start: datetime
    days: int
    case_rate: float

    def _amount(self, who: Shopper, level: float) -> float:
        return who.level_gbp * level * self.rng.lognormvariate(0, who.spread)

    def _cases(self, genuine: list[_Draft]) -> list[_Draft]:
        rng = self.rng
        out: list[_Draft] = []
        last_present: dict[str, _Draft] = {}
        for d in sorted(genuine, key=lambda d: d.when):
            if d.channel != "card_not_present":
                last_present[d.card] = d
        cards = [(who, card) for who in self.world.shoppers for card in who.cards]
        n_cases = _poisson(rng, self.case_rate * len(cards) * self.days)
        kinds = rng.choices(SCENARIOS, weights=_WEIGHTS, k=n_cases)
        for k, kind in enumerate(kinds):
            who, card = rng.choice(cards)
            when = self.start + timedelta(seconds=rng.uniform(0, self.days * 86400))
            case = f"case-{self.tag}-{k:04d}"
            out += _FRAUD[kind](self, who, card, when, case, last_present.get(card))
        out += self._skimming(genuine)
        return out

    def _fraud(
        self,
        who: Shopper,
        card: str,
        when: datetime,
        terminal: Terminal,
        gbp: float,
        scenario: str,
        case: str,
        delivery: tuple[float, float] | None = None,
    ) -> _Draft:
        channel = (
            "card_not_present"
            if terminal.online
            else "atm"
            if terminal.category == "atm"
            else "card_present"
        )
        return _Draft(when, who, card, terminal, gbp, channel, delivery, scenario, case)

    def _stolen_card(
        self, who: Shopper, card: str, when: datetime, case: str, _last: _Draft | None
    ) -> list[_Draft]:
        rng = self.rng
        spots = [
            t
            for t in self.world.near(who.city, who.home, 10)
            if t.category
            in ("atm", "electronics", "apparel", "jewellery", "grocery", "fuel", "restaurant")
        ]
        out = []
        for _ in range(rng.randint(2, 9)):
            when += timedelta(minutes=rng.uniform(4, 90))
            t = rng.choice(spots)
            gbp = (
                rng.choice((100, 200, 250, 300))
                if t.category == "atm"
                else self._amount(who, PRESENT[t.category][0] * rng.uniform(1.5, 5))
            )
            out.append(self._fraud(who, card, when, t, gbp, "stolen_card", case))
        return out

    def _cnp(
        self, who: Shopper, card: str, when: datetime, case: str, _last: _Draft | None
    ) -> list[_Draft]:
        rng = self.rng
        away = rng.choice([c for c in CITIES if c.name != who.city.name])
        drop = _near(rng, (away.lat, away.lon), 20)
        out = []
        for _ in range(rng.randint(1, 6)):
            when += timedelta(hours=rng.uniform(0.1, 20))
            category = rng.choice(("online_retail", "online_electronics", "online_electronics"))
            shop = rng.choice(self.world.web[category])
            gbp = self._amount(who, ONLINE[category][0] * rng.uniform(1.5, 4))
            out.append(self._fraud(who, card, when, shop, gbp, "cnp_stolen_number", case, drop))
        return out

    def _card_testing(
        self, who: Shopper, card: str, when: datetime, case: str, _last: _Draft | None
    ) -> list[_Draft]:
        rng = self.rng
        out = []
        for _ in range(rng.randint(3, 10)):
            when += timedelta(seconds=rng.uniform(3, 40))
            shop = rng.choice(self.world.web[rng.choice(("digital_goods", "online_retail"))])
            out.append(
                self._fraud(who, card, when, shop, rng.uniform(0.3, 2.0), "card_testing", case)
            )
        when += timedelta(minutes=rng.uniform(5, 120))
        shop = rng.choice(self.world.web["online_electronics"])
        away = rng.choice(CITIES)
        out.append(
            self._fraud(
                who,
                card,
                when,
                shop,
                rng.uniform(150, 900),
                "card_testing",
                case,
                _near(rng, (away.lat, away.lon), 20),
            )
        )
        return out

    def _takeover(
        self, who: Shopper, card: str, when: datetime, case: str, _last: _Draft | None
    ) -> list[_Draft]:
        rng = self.rng
        night = when.replace(hour=0, minute=0) + timedelta(hours=rng.uniform(1, 5))
        out = []
        for _ in range(rng.randint(2, 6)):
            night += timedelta(minutes=rng.uniform(2, 60))
            category = rng.choice(("gift_cards", "digital_goods", "gift_cards"))
            shop = rng.choice(self.world.web[category])
            gbp = max(who.level_gbp * rng.uniform(3, 10), rng.uniform(50, 250))
            out.append(self._fraud(who, card, night, shop, gbp, "account_takeover", case))
        return out

    def _impossible(
        self, who: Shopper, card: str, when: datetime, case: str, last: _Draft | None
    ) -> list[_Draft]:
        rng = self.rng
        if last is None or last.terminal.city is None:
            return self._cnp(who, card, when, case, last)
        far = [
            c
            for c in CITIES
            if _km((c.lat, c.lon), (last.terminal.lat or 0, last.terminal.lon or 0)) > 800
        ]
        city = rng.choice(far)
        when = last.when + timedelta(minutes=rng.uniform(10, 180))
        out = []
        for _ in range(rng.randint(1, 4)):
            t = rng.choice(self.world.terminals[city.name])
            gbp = self._amount(who, PRESENT[t.category][0] * rng.uniform(1, 4))
            out.append(self._fraud(who, card, when, t, gbp, "impossible_travel", case))
            when += timedelta(minutes=rng.uniform(5, 60))
        return out

    def _spike(
        self, who: Shopper, card: str, when: datetime, case: str, _last: _Draft | None
    ) -> list[_Draft]:
        rng = self.rng
        shops = [
            t
            for t in self.world.near(who.city, who.home, 15)
            if t.category in ("electronics", "jewellery", "apparel")
        ]
        t = rng.choice(shops or self.world.terminals[who.city.name])
        gbp = who.level_gbp * rng.uniform(6, 25)
        return [self._fraud(who, card, when, t, gbp, "amount_spike", case)]

    def _skimming(self, genuine: list[_Draft]) -> list[_Draft]:
        """Rings: each compromises one terminal for some days and cashes the cards it
        read out at a few terminals of its own, in another city, days later."""
        rng = self.rng
        out: list[_Draft] = []
        rings = max(1, round(self.days / 5))
        for r in range(rings):
            # a terminal many people use (skimmers pick busy ones)
            used = Counter(t.terminal_id for w in self.world.shoppers for t in w.favourites)
            busy = [t for ts in self.world.terminals.values() for t in ts if used[t.terminal_id]]
            where = rng.choices(busy, weights=[used[t.terminal_id] for t in busy])[0]
            home = where.city or CITIES[0]
            first = self.start + timedelta(days=rng.uniform(0, max(self.days - 8, 1)))
            last = first + timedelta(days=rng.uniform(5, 12))
            cash = rng.choice([c for c in CITIES if c.name != home.name])
            # cashed out where a clone turns into money: cash machines, goods that resell
            resell = [t for t in self.world.terminals[cash.name]
                      if t.category in ("atm", "electronics", "jewellery")]  # fmt: skip
            outs = rng.sample(resell, min(2, len(resell)))
            read = {d.card: d for d in genuine if d.terminal is where and first <= d.when <= last}
            for card, d in read.items():
                if rng.random() > 0.8:
                    continue
                case = f"ring-{self.tag}-{r}-{card}"
                when = d.when + timedelta(days=rng.uniform(1, 6))
                for _ in range(rng.randint(1, 4)):
                    t = rng.choice(outs)
                    gbp = (
                        rng.choice((200, 300, 400))
                        if t.category == "atm"
                        else self._amount(d.who, PRESENT[t.category][0] * rng.uniform(1, 4))
                    )
                    out.append(self._fraud(d.who, card, when, t, gbp, "skimmed", case))
                    when += timedelta(minutes=rng.uniform(3, 50))
        return out


_FRAUD = {
    "stolen_card": FraudCases._stolen_card,
    "cnp_stolen_number": FraudCases._cnp,
    "card_testing": FraudCases._card_testing,
    "account_takeover": FraudCases._takeover,
    "impossible_travel": FraudCases._impossible,
    "amount_spike": FraudCases._spike,
}


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method for small means, a rounded normal for large ones."""
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _near(rng: random.Random, at: tuple[float, float], km: float) -> tuple[float, float]:
    r = km * math.sqrt(rng.random())
    a = rng.uniform(0, 2 * math.pi)
    lat = at[0] + r * math.cos(a) / 111.0
    lon = at[1] + r * math.sin(a) / (111.0 * max(math.cos(math.radians(at[0])), 0.1))
    return round(max(-90.0, min(90.0, lat)), 5), round(((lon + 180) % 360) - 180, 5)
