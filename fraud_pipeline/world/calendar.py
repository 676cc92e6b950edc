"""The region's calendar: public holidays, business days, paydays, and how busy each day is.

Everything here is a function of the scenario and the date alone, so a day's partition never
depends on which other days were generated. Public holidays come from the `holidays` package (the
region's country code); a holiday behaves like the weekday the scenario names (a Sunday by default).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays
import numpy as np

from fraud_pipeline.core.streams import stream
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.scenario.base import CHANNELS, MONTH_DAYS
from fraud_pipeline.scenario.behaviour import PAYDAY_DAYS

SCHEDULE_DAY = {"day_25": 25, "day_15": 15}


@lru_cache(maxsize=None)
def _holidays(country: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, years=year))


def is_holiday(scenario: Scenario, day: date) -> bool:
    return day in _holidays(scenario.geography.country_code, day.year)


def is_business_day(scenario: Scenario, day: date) -> bool:
    return day.weekday() < 5 and not is_holiday(scenario, day)


def rhythm_weekday(scenario: Scenario, day: date) -> int:
    """The weekday whose rhythm the day follows: its own, or the holiday weekday on a public holiday."""
    return scenario.card_transactions.holiday.like_weekday if is_holiday(scenario, day) else day.weekday()


def previous_business_day(scenario: Scenario, day: date) -> date:
    """The latest business day before `day`."""
    previous = day - timedelta(days=1)
    while not is_business_day(scenario, previous):
        previous -= timedelta(days=1)
    return previous


def payday(scenario: Scenario, schedule: str, year: int, month: int) -> date:
    """The pay date of a fixed schedule in a month: the 25th or 15th moved back to a business day, or the
    month's first business day."""
    if schedule in SCHEDULE_DAY:
        day = date(year, month, SCHEDULE_DAY[schedule])
        while not is_business_day(scenario, day):
            day -= timedelta(days=1)
        return day
    day = date(year, month, 1)
    while not is_business_day(scenario, day):
        day += timedelta(days=1)
    return day


def days_since_payday(scenario: Scenario, schedule: str, day: date) -> int | None:
    """Whole days since the schedule's latest payday on or before `day` (None for irregular income)."""
    if schedule == "irregular":
        return None
    this_month = payday(scenario, schedule, day.year, day.month)
    if this_month <= day:
        return (day - this_month).days
    previous = day.replace(day=1) - timedelta(days=1)
    return (day - payday(scenario, schedule, previous.year, previous.month)).days


def payday_lift(scenario: Scenario, schedule: str, day: date, what: str = "volume") -> float:
    """How much a customer on `schedule` spends on `day` relative to an ordinary day (payday.volume or .amount)."""
    since = days_since_payday(scenario, schedule, day)
    lifts = getattr(scenario.card_transactions.payday, what)
    return lifts[since] if since is not None and since < PAYDAY_DAYS else 1.0


def mean_payday_lift(scenario: Scenario) -> float:
    """The lift averaged over a month for a customer with a fixed payday: what keeps per_day the mean volume."""
    return 1.0 + sum(v - 1.0 for v in scenario.card_transactions.payday.volume) / MONTH_DAYS


def schedule_shares(scenario: Scenario) -> dict[str, float]:
    """The share of customers on each pay schedule (by occupation)."""
    c = scenario.customers
    shares: dict[str, float] = {}
    for occupation, share in c.occupation.items():
        shares[c.pay_schedule[occupation]] = shares.get(c.pay_schedule[occupation], 0.0) + share
    return shares


def weekly_factor(scenario: Scenario, channel: str, day: date) -> float:
    """The channel's weekday rhythm (mean 1 over a week) on `day`."""
    weekly = np.asarray(scenario.card_transactions.weekly[channel], float)
    return float(weekly[rhythm_weekday(scenario, day)] / weekly.mean())


def population_payday_factor(scenario: Scenario, day: date) -> float:
    """The day's volume lift from paydays, over every pay schedule, relative to the month's mean."""
    mean = mean_payday_lift(scenario)
    lift = sum(share * (payday_lift(scenario, schedule, day) if schedule != "irregular" else mean)
               for schedule, share in schedule_shares(scenario).items())
    return lift / mean


def noise(scenario: Scenario, day: date) -> float:
    """The day's volume noise: small, no drift."""
    z = stream(scenario.seed, "card_transactions", day.isoformat(), "volume").standard_normal()
    return max(0.0, 1.0 + scenario.card_transactions.daily_volume_sd * z)


def channel_volume(scenario: Scenario, channel: str, day: date) -> float:
    """Expected genuine payments of a channel on `day`: per_day × its share × weekday × paydays × noise."""
    c = scenario.card_transactions
    return (c.per_day * c.channels.get(channel, 0.0) * weekly_factor(scenario, channel, day)
            * population_payday_factor(scenario, day) * noise(scenario, day))


def expected_volume(scenario: Scenario, day: date) -> float:
    """Expected genuine payments on `day`, every channel: what fraud rates are shares of."""
    return sum(channel_volume(scenario, channel, day) for channel in CHANNELS)


def category_day_weights(scenario: Scenario, day: date) -> np.ndarray:
    """Per category, how much likelier it is chosen on `day` (weekday rhythm, holiday leisure)."""
    c = scenario.card_transactions
    weekday = rhythm_weekday(scenario, day)
    names = list(scenario.merchants.categories)
    weights = np.ones(len(names))
    for i, name in enumerate(names):
        if name in c.category_weekly:
            week = np.asarray(c.category_weekly[name], float)
            weights[i] = week[weekday] / week.mean()
        if is_holiday(scenario, day):
            weights[i] *= c.holiday.category_multiplier.get(name, 1.0)
    return weights
