"""The fraud agent's settings (velocity, screening rules, behaviour features, what an
escalated payment gets): a part of :class:`vigil.settings.Settings`, read with it from
``VIGIL_`` + the upper-case field name. Imports no Vigil package."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

#: units of each currency per GBP (the default of ``fraud_fx_per_gbp``)
FX_PER_GBP = {"GBP": 1.0, "EUR": 1.17, "USD": 1.27, "CAD": 1.75, "AUD": 1.95, "NZD": 2.1,
              "JPY": 190.0, "CHF": 1.12, "SEK": 13.5, "NOK": 13.6, "DKK": 8.7, "PLN": 5.0,
              "FJD": 2.9, "WST": 3.5}  # fmt: skip


class FraudSettings(BaseSettings):
    """The fraud agent's part of the settings."""

    velocity_max_kmh: float = Field(1000.0, gt=0, description="Faster than this is impossible.")
    velocity_same_place_km: float = Field(25.0, ge=0, description="Closer than this: same place.")
    fraud_auto_block_min_risk: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Block without an analyst at or above this risk. Unset: always ask.",
    )
    fraud_escalate_min_risk: float = Field(
        0.5, ge=0, le=1, description="Screening escalates at/above."
    )
    fraud_block_min_risk: float = Field(
        0.8, ge=0, le=1, description="The gate proposes a block at/above."
    )
    fraud_amount_spike_factor: float = Field(
        10.0, gt=1, description="x the customer's usual amount."
    )
    fraud_amount_category_factors: dict[str, float] = Field(
        default_factory=lambda: {"travel": 10.0, "electronics": 4.0, "atm": 4.0},
        description="Merchant categories whose payments are normally far above a customer's "
        "usual amount: the spike factor is multiplied by these (on simulated genuine traffic a "
        "flat 10x held 30% of travel bookings and 10% of electronics).",
    )
    fraud_fx_per_gbp: dict[str, float] = Field(
        default_factory=lambda: dict(FX_PER_GBP),
        description="Units of each currency per GBP, the currency of profiles' usual_amount: "
        "a payment is compared in GBP; one in a currency not listed cannot be compared: its "
        "decision says so (reason and signal amount_rule), a counter counts it and the agent "
        "logs the missing rate once.",
    )
    fraud_card_testing_count: int = Field(
        5, ge=2, description="Small online payments on one card..."
    )
    fraud_card_testing_window_s: int = Field(120, ge=1, description="...within this many seconds.")
    fraud_card_testing_max_amount: float = Field(5.0, gt=0, description="What counts as small.")
    #: an escalated payment's treatment until its graph decides (its screening decision says)
    fraud_pending_action: Literal["hold", "allow"] = Field("hold", description="hold or allow.")
    fraud_wait_for_model: bool = Field(
        True, description="No model reachable: escalations wait (false: the rules decide)."
    )
    fraud_card_recent: int = Field(
        10,
        ge=0,
        le=100,
        description="A card's last payments kept for the analyst's case (about 150 bytes each "
        "in Redis, for 30 days after the card's last use); 0 keeps none.",
    )
    fraud_features: bool = Field(
        False,
        description="Behaviour features per card and customer, learned from the stream (off "
        "by default until they keep 0.8 of screening's rate: `vigil bench fraud`).",
    )
    fraud_features_ttl_s: int = Field(
        90 * 86400, ge=3600, description="A card's or customer's features kept after its last use."
    )
    fraud_features_dedupe_s: int = Field(
        3600,
        ge=60,
        description="A payment's features kept by its id: a re-delivery within this gets the "
        "same answer and adds nothing.",
    )
    fraud_terminal_delay_days: int = Field(
        1,
        ge=0,
        le=30,
        description="A terminal's risk counts its payments and confirmed frauds over 28 days "
        "that end this many days before the payment's (the last days' labels are not in yet).",
    )
    fraud_labels_ttl_s: int = Field(
        120 * 86400,
        ge=86400,
        description="A screened payment's terminal and day are kept this long for its labels; "
        "a label later than this finds no payment and goes to fraud.labels.dlq.",
    )
    fraud_model: bool = Field(
        True,
        description="Score payments with the promoted risk model (`vigil fraud promote`; "
        "needs fraud_features). Without one, the rules alone decide.",
    )
    fraud_model_check_s: float = Field(
        5.0, gt=0, le=3600, description="How often agents look for a newly promoted model."
    )
    fraud_model_shadow: str | None = Field(
        None,
        max_length=64,
        description="A trained model version scored beside the promoted one, its score in "
        "the decision's signals (model_shadow_risk), deciding nothing.",
    )
    fraud_card_review_s: int = Field(
        6 * 3600,
        ge=0,
        le=30 * 86400,
        description="After a payment on a card is escalated, its later payments are held "
        "this long (0: never), until the case is decided (needs fraud_features).",
    )
    fraud_own_amount_factor: float = Field(
        3.0, gt=1, description="x the customer's own mean amount, learned from the stream..."
    )
    fraud_own_amount_spread: float = Field(
        3.0, ge=0, description="...and this many standard deviations above it..."
    )
    fraud_own_min_history: int = Field(
        5, ge=1, description="...once the stream has shown this many of their payments."
    )
    fraud_burst_count: int = Field(
        5, ge=2, description="Payments on one card within about an hour..."
    )
    fraud_burst_factor: float = Field(
        5.0,
        gt=1,
        description="...and this many times the card's usual daily rate (once the "
        "card has fraud_own_min_history payments in 30 days: a new card has no usual).",
    )
