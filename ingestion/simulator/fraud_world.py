"""The world of the labelled fraud simulation: shoppers with habits of their own, and
the terminals they pay at.

A shopper has a home (a point near one of the simulator's cities), a personal amount
level and spread (amounts are heavy-tailed around it), a daily rate, the hours and week
days they shop, a mix of merchant categories, a few favourite terminals near home and a
share of online orders. A terminal is a card reader or ATM at a place, or a web shop.
Everything is drawn from one seeded ``random.Random``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from ingestion.simulator.units import _km
from ingestion.simulator.world import CITIES, City

#: category -> (price level against the shopper's own, how often, card-present merchant
#: names); a shopper's own weights vary around these
PRESENT: dict[str, tuple[float, float, tuple[str, ...]]] = {
    "grocery": (1.0, 0.30, ("FreshMart", "Corner Larder", "GreenBasket", "Harvest Foods")),
    "coffee": (0.12, 0.18, ("Bean There", "Daily Grind", "Copper Kettle")),
    "restaurant": (1.3, 0.14, ("The Olive Tree", "Saffron House", "Harbour Grill")),
    "fuel": (1.5, 0.10, ("PetroPoint", "RoadStar Fuel", "Bluewave Energy")),
    "pharmacy": (0.5, 0.06, ("WellCare Pharmacy", "CityChem")),
    "apparel": (2.0, 0.07, ("Threadline", "North & Co.")),
    "electronics": (4.0, 0.02, ("Volt Electronics", "PixelPoint")),
    "jewellery": (6.0, 0.005, ("Bijoux Royale", "Goldsmiths Row")),
    "atm": (2.5, 0.08, ("ATM",)),
}
#: online categories: (price level, how often, web shop names, delivered to an address)
ONLINE: dict[str, tuple[float, float, tuple[str, ...], bool]] = {
    "online_retail": (1.2, 0.45, ("ShopSphere Online", "BookNest", "Parcelly"), True),
    "digital_subscription": (0.3, 0.2, ("StreamFlix", "TuneBox"), False),
    "digital_goods": (0.4, 0.12, ("GameVault", "AppHaven"), False),
    "transport": (0.5, 0.15, ("RideNow", "CityRail"), False),
    "travel": (8.0, 0.03, ("SkyHop Airlines", "StayWell Hotels"), False),
    "gift_cards": (2.0, 0.01, ("GiftHub", "CardCorner"), False),
    "online_electronics": (4.0, 0.04, ("MegaByte Direct", "GadgetDock"), True),
}
TERMINALS_PER_CITY = 120
#: terminals are within this of a city's centre; a shopper's favourites within HOME_KM
CITY_KM = 25.0
HOME_KM = 12.0


@dataclass(frozen=True, slots=True)
class Terminal:
    terminal_id: str
    merchant: str
    category: str
    city: City | None  # None: a web shop
    lat: float | None = None
    lon: float | None = None

    @property
    def online(self) -> bool:
        return self.city is None


@dataclass
class Shopper:
    customer_id: str
    name: str
    cards: list[str]
    city: City
    home: tuple[float, float]
    #: their usual payment, in GBP, and how widely their amounts spread (log-normal sigma)
    level_gbp: float
    spread: float
    per_day: float
    peak_hour: float
    hour_width: float
    weekday: tuple[float, ...]
    online_share: float
    present_mix: dict[str, float]
    online_mix: dict[str, float]
    favourites: list[Terminal] = field(default_factory=list)
    credit_score: int = 700


def _offset(rng: random.Random, lat: float, lon: float, km: float) -> tuple[float, float]:
    """A point uniformly within ``km`` of (lat, lon)."""
    r = km * math.sqrt(rng.random())
    a = rng.uniform(0, 2 * math.pi)
    dlat = r * math.cos(a) / 111.0
    dlon = r * math.sin(a) / (111.0 * max(math.cos(math.radians(lat)), 0.1))
    return round(lat + dlat, 5), round(lon + dlon, 5)


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class FraudWorld:
    """Shoppers and terminals of one seed; ``tag`` goes into every id (a run's ids are
    its own: two runs against the same stores do not collide)."""

    def __init__(self, rng: random.Random, shoppers: int, tag: str) -> None:
        self.rng = rng
        self.tag = tag
        self.terminals: dict[str, list[Terminal]] = {}
        for ci, city in enumerate(CITIES):
            here = []
            for k in range(TERMINALS_PER_CITY):
                category = _pick(rng, {c: v[1] for c, v in PRESENT.items()})
                name = rng.choice(PRESENT[category][2])
                lat, lon = _offset(rng, city.lat, city.lon, CITY_KM)
                merchant = f"{name} {city.name}" if category == "atm" else name
                tid = f"t{tag}-{ci:02d}{k:03d}"
                here.append(Terminal(tid, merchant, category, city, lat, lon))
            self.terminals[city.name] = here
        self.web: dict[str, list[Terminal]] = {
            category: [
                Terminal(f"w{tag}-{category}-{i}", name, category, None)
                for i, name in enumerate(spec[2])
            ]
            for category, spec in ONLINE.items()
        }
        # most shoppers live in the first few cities: the UK and Europe
        weights = [6, 3, 2, 3, 1, 2, 1, 1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.3, 0.3, 0.2]
        self.shoppers = [
            self._shopper(i, rng.choices(CITIES, weights=weights)[0]) for i in range(shoppers)
        ]

    def _shopper(self, i: int, city: City) -> Shopper:
        rng = self.rng
        home = _offset(rng, city.lat, city.lon, CITY_KM * 0.8)
        cid = f"fc{self.tag}-{i:05d}"
        present = {c: v[1] * rng.lognormvariate(0, 0.6) for c, v in PRESENT.items()}
        online = {c: v[1] * rng.lognormvariate(0, 0.6) for c, v in ONLINE.items()}
        shopper = Shopper(
            customer_id=cid,
            name=f"Shopper {i}",
            cards=[f"{cid}-c{k}" for k in range(rng.choice((1, 1, 1, 2)))],
            city=city,
            home=home,
            level_gbp=rng.lognormvariate(math.log(30), 0.55),
            spread=rng.uniform(0.35, 0.8),
            per_day=rng.gammavariate(2.0, 1.0),
            peak_hour=rng.gauss(14, 2.5),
            hour_width=rng.uniform(2.0, 4.5),
            weekday=tuple(rng.uniform(0.6, 1.4) for _ in range(7)),
            online_share=rng.uniform(0.08, 0.4),
            present_mix=present,
            online_mix=online,
            credit_score=max(300, min(850, int(rng.gauss(690, 70)))),
        )
        near = [t for t in self.terminals[city.name] if _km(home, (t.lat, t.lon)) <= HOME_KM]  # type: ignore[arg-type]
        pool = near or self.terminals[city.name]
        shopper.favourites = rng.sample(pool, min(len(pool), rng.randint(6, 14)))
        return shopper

    def near(self, city: City, at: tuple[float, float], km: float) -> list[Terminal]:
        """The terminals of ``city`` within ``km`` of ``at`` (all of the city's if none)."""
        out = [t for t in self.terminals[city.name] if _km(at, (t.lat, t.lon)) <= km]  # type: ignore[arg-type]
        return out or self.terminals[city.name]
