"""The simulated world: cities, merchants, customers and their cards, assets, services.

Everything is drawn from one seeded ``random.Random`` so a seed names one world.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class City:
    name: str
    country: str
    lat: float
    lon: float
    currency: str


CITIES: tuple[City, ...] = (
    City("London", "GB", 51.5072, -0.1276, "GBP"),
    City("Manchester", "GB", 53.4808, -2.2426, "GBP"),
    City("Edinburgh", "GB", 55.9533, -3.1883, "GBP"),
    City("Paris", "FR", 48.8566, 2.3522, "EUR"),
    City("Lyon", "FR", 45.7640, 4.8357, "EUR"),
    City("Berlin", "DE", 52.5200, 13.4050, "EUR"),
    City("Munich", "DE", 48.1351, 11.5820, "EUR"),
    City("Madrid", "ES", 40.4168, -3.7038, "EUR"),
    City("Rome", "IT", 41.9028, 12.4964, "EUR"),
    City("Amsterdam", "NL", 52.3676, 4.9041, "EUR"),
    City("Dublin", "IE", 53.3498, -6.2603, "EUR"),
    City("New York", "US", 40.7128, -74.0060, "USD"),
    City("Chicago", "US", 41.8781, -87.6298, "USD"),
    City("San Francisco", "US", 37.7749, -122.4194, "USD"),
    City("Toronto", "CA", 43.6532, -79.3832, "CAD"),
    City("Tokyo", "JP", 35.6762, 139.6503, "JPY"),
    City("Sydney", "AU", -33.8688, 151.2093, "AUD"),
    City("Auckland", "NZ", -36.8485, 174.7633, "NZD"),
)

CITY_BY_NAME = {c.name: c for c in CITIES}

#: category -> (merchant names, typical amount in major units, spread factor)
CATEGORIES: dict[str, tuple[tuple[str, ...], float, float]] = {
    "coffee": (("Bean There", "Daily Grind", "Copper Kettle", "Flat White Co."), 4.5, 1.4),
    "grocery": (("FreshMart", "Corner Larder", "GreenBasket", "Harvest Foods"), 38.0, 1.8),
    "fuel": (("PetroPoint", "RoadStar Fuel", "Bluewave Energy"), 55.0, 1.4),
    "restaurant": (("The Olive Tree", "Saffron House", "Harbour Grill", "Noodle Bar"), 42.0, 1.9),
    "pharmacy": (("WellCare Pharmacy", "CityChem"), 16.0, 1.7),
    "electronics": (("Volt Electronics", "PixelPoint"), 180.0, 2.2),
    "apparel": (("Threadline", "North & Co."), 70.0, 1.8),
}
ONLINE_MERCHANTS: tuple[tuple[str, str, float], ...] = (
    ("ShopSphere Online", "online_retail", 45.0),
    ("StreamFlix", "digital_subscription", 12.99),
    ("SkyHop Airlines", "travel", 320.0),
    ("BookNest", "online_retail", 22.0),
    ("GameVault", "digital_goods", 15.0),
    ("RideNow", "transport", 18.0),
)

FIRST = (
    "Olivia",
    "Liam",
    "Amelia",
    "Noah",
    "Isla",
    "Oliver",
    "Ava",
    "Elijah",
    "Mia",
    "Lucas",
    "Sofia",
    "Mateo",
    "Chloe",
    "Leo",
    "Grace",
    "Hugo",
    "Emma",
    "Arjun",
    "Priya",
    "Yuki",
)
LAST = (
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Martin",
    "Dubois",
    "Müller",
    "García",
    "Rossi",
    "Kowalski",
    "Nakamura",
    "Patel",
    "O'Brien",
    "Silva",
    "Nguyen",
    "Cohen",
    "Ahmed",
    "Lee",
)
SEGMENTS = ("mass", "mass", "mass", "affluent", "affluent", "private", "student", "small_business")


@dataclass(slots=True)
class Customer:
    customer_id: str
    name: str
    age: int
    marital_status: str
    home: City
    segment: str
    credit_score: int
    tenure_years: float
    home_ownership: str
    cards: list[str]
    usual_amount: Decimal
    flags: list[str] = field(default_factory=list)


#: The founding story's customer: 55, married, house with a fully paid mortgage.
JOHN = Customer(
    customer_id="cust-john",
    name="John Carter",
    age=55,
    marital_status="married",
    home=CITY_BY_NAME["London"],
    segment="affluent",
    credit_score=795,
    tenure_years=22.0,
    home_ownership="own_outright",
    cards=["card-john-debit"],
    usual_amount=Decimal("48.00"),
)


def make_customers(rng: random.Random, n: int) -> list[Customer]:
    """John first (a copy: a simulation drifts its customers' credit scores, and John's
    must start at the founding story's in every simulator of the process), then ``n - 1``
    others drawn from the seed."""
    people = [replace(JOHN, cards=list(JOHN.cards), flags=list(JOHN.flags))] if n > 0 else []
    for i in range(1, n):
        home = rng.choice(CITIES)
        age = rng.randint(19, 84)
        cards = [f"card-{i:05d}-{k}" for k in range(rng.choice((1, 1, 1, 2, 2, 3)))]
        people.append(
            Customer(
                customer_id=f"cust-{i:05d}",
                name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                age=age,
                marital_status=rng.choice(
                    ("single", "married", "married", "divorced", "partnered")
                ),
                home=home,
                segment=rng.choice(SEGMENTS),
                credit_score=max(300, min(850, int(rng.gauss(690, 70)))),
                tenure_years=round(rng.uniform(0.2, min(40.0, age - 17)), 1),
                home_ownership=rng.choice(("mortgage", "rent", "own_outright", "other")),
                cards=cards,
                usual_amount=Decimal(str(round(rng.lognormvariate(3.5, 0.5), 2))),
            )
        )
    return people


@dataclass(frozen=True, slots=True)
class Asset:
    asset_id: str
    asset_type: str
    site: str
    #: metric -> (healthy mean, noise sd, unit)
    baseline: dict[str, tuple[float, float, str]]


ASSETS: tuple[Asset, ...] = tuple(
    [
        Asset(
            f"pump-{i:02d}",
            "centrifugal_pump",
            "plant-north",
            {
                "vibration_mm_s": (2.2, 0.25, "mm/s"),
                "bearing_temp_c": (58.0, 1.5, "C"),
                "discharge_pressure_bar": (6.1, 0.15, "bar"),
                "rpm": (2950.0, 12.0, "rpm"),
            },
        )
        for i in range(1, 5)
    ]
    + [
        Asset(
            f"turbine-{i:02d}",
            "wind_turbine",
            "farm-west",
            {
                "gearbox_vibration_mm_s": (3.0, 0.35, "mm/s"),
                "gearbox_oil_temp_c": (62.0, 2.0, "C"),
                "power_kw": (1450.0, 120.0, "kW"),
            },
        )
        for i in range(1, 3)
    ]
)
#: This asset's bearing wears out as the simulation runs.
DEGRADING_ASSET = "pump-03"

#: Where the sites are (for regional signals).
SITES: dict[str, str] = {"plant-north": "Manchester", "farm-west": "Dublin"}

#: In ``Simulator.asset_run`` the degrading asset starts wearing this many hours into the run
#: and fails (vibration beyond the manual's "unacceptable" 7.1 mm/s) at FAILURE_H.
DEGRADATION_ONSET_H = 12.0
FAILURE_H = 60.0
FAILURE_VIBRATION_MM_S = 7.1

#: Background signals: (category, headline template, possible severities)
SIGNAL_KINDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("weather", "Heavy rain expected in {city}", ("info", "minor", "moderate")),
    ("weather", "Strong winds forecast for {city}", ("info", "minor")),
    ("market", "Local currency volatility affecting {city}", ("info", "minor")),
    ("infrastructure", "Planned power maintenance in {city}", ("info", "minor")),
)
