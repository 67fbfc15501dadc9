"""Seeded, reproducible event traffic over the simulated world.

One ``Simulator`` holds a simulated clock and one RNG: the same seed, start time and
run tag give the same events, byte for byte. The run tag goes into every generated id,
so two runs against the same stores (a data folder Redis keeps between runs) are new
events, not re-deliveries that the agents' idempotency would rightly ignore.
Background traffic is plausible (customers shop near home; a card only shows up in
another city once a flight could have got it there), so what the scenarios inject is
what stands out.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from ingestion.contracts import (
    CustomerChange,
    CustomerProfilePatch,
    Event,
    KnowledgeDocument,
    MaintenanceLog,
    MonitoringSignal,
    Region,
    SensorReading,
    Transaction,
)
from ingestion.simulator.units import _FLIGHT_KMH, _km, _money, check_run_id, new_run_id
from ingestion.simulator.world import (
    ASSETS,
    CATEGORIES,
    CITIES,
    DEGRADATION_ONSET_H,
    DEGRADING_ASSET,
    FAILURE_H,
    FAILURE_VIBRATION_MM_S,
    JOHN,
    ONLINE_MERCHANTS,
    SIGNAL_KINDS,
    Asset,
    City,
    Customer,
    make_customers,
)


class Simulator:
    """Generates events; ``rate`` is events per simulated second of background traffic."""

    def __init__(
        self,
        seed: int = 7,
        customers: int = 200,
        start: datetime | None = None,
        rate: float = 50.0,
        run: str | None = None,
    ) -> None:
        if customers < 1:
            raise ValueError("need at least one customer")
        self.seed = seed
        self.run = None if run is None else check_run_id(run)
        self.rng = random.Random(seed)
        self.customers = make_customers(self.rng, customers)
        self.clock = (start or datetime.now(UTC)).astimezone(UTC)
        self.mean_gap_s = 1.0 / rate if rate > 0 else 0.02
        self._n = 0
        # card -> (time, (lat, lon)) of its last card-present use
        self._last_seen: dict[str, tuple[datetime, tuple[float, float]]] = {}
        self._where: dict[str, City] = {c.customer_id: c.home for c in self.customers}
        self._ticks = 0
        self._versions: dict[str, int] = {}

    # -- ids and time ----------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        self._n += 1
        if self.run is None:
            return f"{prefix}-{self.seed}-{self._n:08d}"
        return f"{prefix}-{self.seed}-{self.run}-{self._n:08d}"

    def _advance(self, seconds: float | None = None) -> datetime:
        gap = self.rng.expovariate(1.0 / self.mean_gap_s) if seconds is None else seconds
        self.clock += timedelta(seconds=gap)
        return self.clock

    # -- customer profiles ------------------------------------------------------------------

    def profile_upserts(self) -> list[CustomerChange]:
        return [self._upsert(c) for c in self.customers]

    def _upsert(self, c: Customer) -> CustomerChange:
        return CustomerChange(
            event_id=self._id("evt"),
            customer_id=c.customer_id,
            version=1,
            op="upsert",
            changed_at=self.clock,
            profile=CustomerProfilePatch(
                name=c.name,
                age=c.age,
                marital_status=c.marital_status,
                segment=c.segment,
                home_city=c.home.name,
                credit_score=c.credit_score,
                tenure_years=c.tenure_years,
                home_ownership=c.home_ownership,
                cards=c.cards,
                flags=c.flags,
                usual_amount=c.usual_amount,
                home_lat=c.home.lat,
                home_lon=c.home.lon,
            ),
        )

    def profile_patch(self) -> CustomerChange:
        c = self.rng.choice(self.customers)
        c.credit_score = max(300, min(850, c.credit_score + self.rng.randint(-15, 15)))
        self._versions[c.customer_id] = self._versions.get(c.customer_id, 1) + 1
        return CustomerChange(
            event_id=self._id("evt"),
            customer_id=c.customer_id,
            version=self._versions[c.customer_id],
            op="patch",
            changed_at=self.clock,
            profile=CustomerProfilePatch(credit_score=c.credit_score),
        )

    # -- transactions -------------------------------------------------------------------------

    def transaction(self) -> Transaction:
        # some customers shop far more than others: squash a uniform draw towards 0
        c = self.customers[int(len(self.customers) * self.rng.random() ** 2)]
        card = self.rng.choice(c.cards)
        when = self._advance()
        roll = self.rng.random()
        if roll < 0.28:
            name, category, typical = self.rng.choice(ONLINE_MERCHANTS)
            amount = typical * self.rng.lognormvariate(0, 0.5)
            return self._tx(c, card, when, name, category, "card_not_present", amount, None)
        city = self._maybe_travel(c, when)
        if roll < 0.36:
            amount = self.rng.choice((20, 40, 50, 60, 100, 200)) * local_rate(city)
            return self._tx(c, card, when, f"ATM {city.name}", "atm", "atm", amount, city)
        category = self.rng.choice(list(CATEGORIES))
        names, typical, spread = CATEGORIES[category]
        amount = typical * local_rate(city) * self.rng.lognormvariate(0, math.log(spread) / 2)
        name = self.rng.choice(names)
        return self._tx(c, card, when, name, category, "card_present", amount, city)

    def _maybe_travel(self, c: Customer, when: datetime) -> City:
        """Usually where the customer is; moves them only if a flight could have made it."""
        here = self._where[c.customer_id]
        if self.rng.random() < 0.02:
            dest = self.rng.choice(CITIES)
            # the customer's most recent card-present use, whichever card it was
            seen = [self._last_seen[k] for k in c.cards if k in self._last_seen]
            last = max(seen, key=lambda s: s[0]) if seen else None
            if last is None:
                self._where[c.customer_id] = dest
                return dest
            hours = (when - last[0]).total_seconds() / 3600
            if _km(last[1], (dest.lat, dest.lon)) / _FLIGHT_KMH + 2 <= hours:
                self._where[c.customer_id] = dest
                return dest
        return here

    def _tx(
        self,
        c: Customer,
        card: str,
        when: datetime,
        merchant: str,
        category: str,
        channel: str,
        amount: float,
        city: City | None,
        at: tuple[float, float] | None = None,
    ) -> Transaction:
        lat = lon = None
        if city is not None:
            jitter = (self.rng.uniform(-0.03, 0.03), self.rng.uniform(-0.03, 0.03))
            lat, lon = at or (round(city.lat + jitter[0], 5), round(city.lon + jitter[1], 5))
            self._last_seen[card] = (when, (lat, lon))
        currency = city.currency if city else c.home.currency
        return Transaction(
            event_id=self._id("evt"),
            transaction_id=self._id("tx"),
            user_id=c.customer_id,
            card_id=card,
            timestamp=when,
            amount=_money(amount, currency),
            currency=currency,
            merchant=merchant,
            merchant_category=category,
            channel=channel,
            lat=lat,
            lon=lon,
            city=city.name if city else None,
            country=city.country if city else None,
        )

    # -- sensors, monitoring, documents ---------------------------------------------------------

    def sensor_reading(self) -> SensorReading:
        asset = self.rng.choice(ASSETS)
        self._ticks += 1
        wear = 0.0
        if asset.asset_id == DEGRADING_ASSET:
            wear = min(3.0, self._ticks / 400)  # grows through the run, capped at failure
        return self._reading(asset, self._advance(0), wear)

    def _reading(self, asset: Asset, when: datetime, wear: float) -> SensorReading:
        metrics: dict[str, float] = {}
        for metric, (mean, sd, _unit) in asset.baseline.items():
            value = self.rng.gauss(mean, sd)
            if "vibration" in metric:
                value += mean * wear * 1.2
            elif "temp" in metric:
                value += 9.0 * wear
            metrics[metric] = round(value, 3)
        return SensorReading(
            event_id=self._id("evt"),
            asset_id=asset.asset_id,
            asset_type=asset.asset_type,
            site=asset.site,
            timestamp=when,
            metrics=metrics,
            units={m: u for m, (_a, _b, u) in asset.baseline.items()},
        )

    def asset_run(
        self,
        hours: float = 72.0,
        interval_s: float = 900.0,
        degrading: str | None = DEGRADING_ASSET,
    ) -> tuple[list[SensorReading], datetime]:
        """Every asset read every ``interval_s`` for ``hours``, from the simulated clock.

        The degrading pump (pump-03 unless named; None: none) wears from
        DEGRADATION_ONSET_H and fails at FAILURE_H (its vibration crosses
        FAILURE_VIBRATION_MM_S); returns the readings and that failure time. The others
        stay healthy.
        """
        start = self.clock
        failure_at = start + timedelta(hours=FAILURE_H)
        # vibration = mean + mean * 1.2 * wear: the wear at which it crosses the limit
        pumps = {a.asset_id: a for a in ASSETS if a.asset_type == "centrifugal_pump"}
        if degrading is not None and degrading not in pumps:
            raise ValueError(f"only a pump degrades in the simulator: one of {sorted(pumps)}")
        mean = pumps[DEGRADING_ASSET].baseline["vibration_mm_s"][0]
        failure_wear = (FAILURE_VIBRATION_MM_S - mean) / (mean * 1.2)
        out: list[SensorReading] = []
        for step in range(int(hours * 3600 / interval_s)):
            when = start + timedelta(seconds=step * interval_s)
            hours_in = step * interval_s / 3600
            for asset in ASSETS:
                wear = 0.0
                if asset.asset_id == degrading and hours_in > DEGRADATION_ONSET_H:
                    progress = (hours_in - DEGRADATION_ONSET_H) / (FAILURE_H - DEGRADATION_ONSET_H)
                    wear = failure_wear * progress
                out.append(self._reading(asset, when, wear))
        self.clock = start + timedelta(hours=hours)
        return out, failure_at

    def maintenance_history(self) -> list[MaintenanceLog]:
        """Past jobs on every asset: a lubrication and an inspection each, weeks ago."""
        out: list[MaintenanceLog] = []
        for asset in ASSETS:
            for kind, days, summary in (
                ("lubrication", 40, "Regreased bearings, 15 g lithium-complex grease."),
                ("inspection", 12, "Routine inspection; vibration and temperature normal."),
            ):
                out.append(
                    MaintenanceLog(
                        event_id=self._id("evt"),
                        log_id=f"log-{asset.asset_id}-{kind}",
                        asset_id=asset.asset_id,
                        performed_at=self.clock - timedelta(days=days),
                        kind=kind,
                        summary=summary,
                        technician="tech-07",
                    )
                )
        return out

    def asset_repair(self, asset_id: str, summary: str) -> MaintenanceLog:
        """A replacement done on the asset now (simulated clock): it closes the asset's open
        degradation episode. Draws nothing from the RNG, so later traffic is unchanged."""
        if asset_id not in {a.asset_id for a in ASSETS}:
            raise ValueError(f"no simulated asset {asset_id!r}")
        return MaintenanceLog(
            event_id=self._id("evt"),
            log_id=self._id("log"),
            asset_id=asset_id,
            performed_at=self.clock,
            kind="replacement",
            summary=summary,
            technician="tech-07",
        )

    def monitoring_signal(self) -> MonitoringSignal:
        """Background signals: minor, for a random customer city; nothing to alert on."""
        category, template, severities = self.rng.choice(SIGNAL_KINDS)
        city = self.rng.choice(CITIES)
        when = self._advance(0)
        return MonitoringSignal(
            event_id=self._id("evt"),
            signal_id=self._id("sig"),
            category=category,
            severity=self.rng.choice(severities),
            region=Region(name=city.name, cities=[city.name]),
            headline=template.format(city=city.name),
            source="sim-feed",
            issued_at=when,
            expires_at=when + timedelta(hours=12),
        )

    def severe_signal(self, city: str, *, sites: list[str] | None = None) -> MonitoringSignal:
        """A severe storm warning for ``city`` (and these sites); the feed's id for it names
        the city and the day (and the run, when tagged: each run's storm is a new one)."""
        when = self._advance(1.0)
        signal_id = f"sig-storm-{city.lower().replace(' ', '-')}-{when:%Y%m%d}"
        return MonitoringSignal(
            event_id=self._id("evt"),
            signal_id=signal_id if self.run is None else f"{signal_id}-{self.run}",
            category="weather",
            severity="severe",
            region=Region(name=city, cities=[city], sites=sites or []),
            headline=f"Severe storm warning for {city}: flooding and power cuts likely",
            description=(
                "Gusts above 110 km/h and flash flooding expected for the next 24 hours; "
                "branches may close and card terminals may lose power."
            ),
            source="national-weather-service",
            issued_at=when,
            expires_at=when + timedelta(hours=24),
        )

    def faq_update(self) -> KnowledgeDocument:
        doc_id = "faq-card-travel"
        version = self._versions.get(doc_id, 0) + 1
        self._versions[doc_id] = version
        return KnowledgeDocument(
            event_id=self._id("evt"),
            doc_id=doc_id,
            version=version,
            kb="faq",
            title="Using your card abroad",
            body=(
                "Your card works in over 200 countries. You do not need to tell us before "
                "you travel, but keep your mobile number up to date so we can confirm "
                f"unusual payments by text. (Revision {version}.)"
            ),
            tags=["cards", "travel"],
            updated_at=self.clock,
        )

    # -- mixed stream ----------------------------------------------------------------------------

    def events(self) -> Iterator[Event]:
        """Endless background traffic: mostly transactions, with the other streams mixed in."""
        while True:
            roll = self.rng.random()
            if roll < 0.90:
                yield self.transaction()
            elif roll < 0.96:
                yield self.sensor_reading()
            elif roll < 0.99:
                yield self.monitoring_signal()
            elif roll < 0.998:
                yield self.profile_patch()
            else:
                yield self.faq_update()


def local_rate(city: City) -> float:
    """Rough local-currency multiplier so amounts look like the place."""
    return {"JPY": 150.0, "AUD": 1.5, "NZD": 1.6, "CAD": 1.35, "USD": 1.1}.get(city.currency, 1.0)


__all__ = ["JOHN", "Simulator", "check_run_id", "local_rate", "new_run_id"]
