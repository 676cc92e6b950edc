"""The fraud section: each scenario's rate, stealth share and parameters, compromise points and rings.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from fraud_pipeline.scenario.base import FloatRange, IntRange, Probability, Section, _bands_in_order


class FraudScenario(Section):
    enabled: bool
    rate: Probability
    stealth: Probability
    label_delay_days: FloatRange

    @field_validator("label_delay_days")
    @classmethod
    def _not_before(cls, delay: FloatRange) -> FloatRange:
        if delay.min < 0:
            raise ValueError(f"the bank cannot learn of fraud before it happens (got min={delay.min})")
        return delay


class CardFraudChain(FraudScenario):
    length: IntRange
    gap_seconds: FloatRange
    stealth_length: IntRange
    stealth_gap_minutes: FloatRange
    online_share: Probability
    foreign_share: Probability
    shop_account_share: Probability
    onset_days: IntRange


class AgeWeight(Section):
    min_age: Annotated[int, Field(ge=0)]
    max_age: Annotated[int, Field(ge=0)]
    weight: Annotated[float, Field(ge=0)]


class AtmAbroad(FraudScenario):
    withdrawals: IntRange
    delay_hours: FloatRange
    min_distance_km: Annotated[float, Field(ge=0)]
    age_susceptibility: Annotated[list[AgeWeight], Field(min_length=1)]
    onset_days: IntRange

    @field_validator("age_susceptibility")
    @classmethod
    def _bands_in_order(cls, bands: list[AgeWeight]) -> list[AgeWeight]:
        return _bands_in_order(bands)

    @field_validator("delay_hours")
    @classmethod
    def _within_a_day(cls, delay: FloatRange) -> FloatRange:
        if delay.min < 0 or delay.max >= 24:
            raise ValueError(f"delay_hours must lie within 0–24 (got {delay.min}–{delay.max})")
        return delay


class HighVelocity(FraudScenario):
    transactions: IntRange
    gap_seconds: FloatRange
    spend_multiplier: FloatRange
    hours: tuple[Annotated[int, Field(ge=0, le=23)], Annotated[int, Field(ge=0, le=23)]]
    shop_account_share: Probability


class AccountTakeover(FraudScenario):
    transfers: IntRange
    gap_seconds: FloatRange
    stealth_transfers: IntRange
    stealth_gap_minutes: FloatRange
    drain_share: FloatRange
    daily_limit: Annotated[float, Field(ge=100)]
    risky_device_weight: Annotated[float, Field(ge=1)]
    payee_saved_days: IntRange


class Compromise(Section):
    points_per_week: Annotated[float, Field(ge=0, le=1000)]
    window_days: IntRange
    capture_share: Probability


class Rings(Section):
    count: Annotated[int, Field(ge=1, le=10000)]
    devices: IntRange
    ips: IntRange
    mules: IntRange
    burners: Annotated[int, Field(ge=1, le=1_000_000)]

    @model_validator(mode="after")
    def _members(self):
        if min(self.devices.min, self.ips.min, self.mules.min) < 1:
            raise ValueError("a ring has at least one device, IP address and mule (min >= 1)")
        return self


class Fraud(Section):
    card_fraud_chain: CardFraudChain
    atm_abroad: AtmAbroad
    high_velocity: HighVelocity
    account_takeover: AccountTakeover
    compromise: Compromise
    rings: Rings

    @model_validator(mode="after")
    def _episodes_last_less_than_a_day(self):
        chain = self.card_fraud_chain
        longest = {
            "card_fraud_chain": chain.length.max * max(chain.gap_seconds.max, chain.stealth_gap_minutes.max * 60),
            "high_velocity": self.high_velocity.transactions.max * self.high_velocity.gap_seconds.max,
            "account_takeover": self.account_takeover.transfers.max * self.account_takeover.gap_seconds.max,
        }
        too_long = [name for name, seconds in longest.items() if seconds >= 24 * 3600]
        if too_long:
            raise ValueError(f"an episode must last under a day (length × longest gap): {', '.join(too_long)}")
        return self
