"""The scenario: every section together, the cross-section rules, and its content hash.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import date, timedelta
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from fraud_pipeline.core.timeline import BASELINE_DAYS
from fraud_pipeline.scenario.aml import Aml
from fraud_pipeline.scenario.anomalies import Anomalies, ConversionDrop
from fraud_pipeline.scenario.base import CHANNELS, HORIZON_DAYS, MONTH_DAYS, TYPED_LEAST, Section
from fraud_pipeline.scenario.behaviour import CardTransactions, CustomerEvents
from fraud_pipeline.scenario.detection import Detection
from fraud_pipeline.scenario.fraud import Fraud
from fraud_pipeline.scenario.funnel import WebFunnel
from fraud_pipeline.scenario.money import Inflows, Money, Travel
from fraud_pipeline.scenario.population import Accounts, Beneficiaries, Cards, Customers, Devices, Merchants, Population
from fraud_pipeline.scenario.regions import REGIONS, Region
from fraud_pipeline.scenario.storage import Storage


class Scenario(Section):
    seed: Annotated[int, Field(ge=0, lt=2**63)]
    start_date: date
    end_date: date | None = None  # the calendar's last day (inclusive); None: open-ended
    region: str
    population: Population
    customers: Customers
    accounts: Accounts
    cards: Cards
    devices: Devices
    beneficiaries: Beneficiaries
    merchants: Merchants
    card_transactions: CardTransactions
    customer_events: CustomerEvents
    money: Money
    inflows: Inflows
    travel: Travel
    fraud: Fraud
    aml: Aml
    web_funnel: WebFunnel
    anomalies: Anomalies
    detection: Detection = Detection()  # a section with defaults: a file written before it existed still loads
    storage: Storage

    @model_validator(mode="after")
    def _calendar_holds_baseline_and_window(self):
        if self.end_date is None:
            return self
        days = (self.end_date - self.start_date).days + 1
        needed = BASELINE_DAYS + self.anomalies.window_days
        if days < needed:
            raise ValueError(f"end_date: the calendar {self.start_date} … {self.end_date} holds {days} day(s); it needs "
                             f"at least {needed}: the {BASELINE_DAYS} baseline days and anomalies.window_days "
                             f"({self.anomalies.window_days})")
        return self

    @property
    def minimum_days(self) -> int:
        """The days every calendar offers: the baseline and one anomaly window."""
        return BASELINE_DAYS + self.anomalies.window_days

    @model_validator(mode="after")
    def _a_shop_for_every_category(self):
        p, categories = self.population, len(self.merchants.categories)
        for field in ("merchants", "online_merchants"):
            if getattr(p, field) < categories:
                raise ValueError(f"population.{field} ({getattr(p, field)}) must be at least the number of merchant "
                                 f"categories ({categories}): each needs a shop")
        destinations = len(self.geography.destinations)
        for field, needed in (("foreign_merchants", 2 * destinations), ("foreign_atms", destinations)):
            if getattr(p, field) < needed:
                raise ValueError(f"population.{field} ({getattr(p, field)}) must be at least {needed}: every travel "
                                 f"destination of the region ({destinations}) needs its shops and ATMs")
        return self

    @model_validator(mode="after")
    def _enough_beneficiaries(self):
        if self.beneficiaries.per_account.max > self.population.beneficiaries:
            raise ValueError(f"beneficiaries.per_account.max ({self.beneficiaries.per_account.max}) must not exceed "
                             f"population.beneficiaries ({self.population.beneficiaries})")
        return self

    @model_validator(mode="after")
    def _payees_for_transfers(self):
        b = self.beneficiaries
        if self.card_transactions.channels.get("transfer", 0) > 0 and b.per_account.max < 1 and b.new_per_month <= 0:
            raise ValueError(f"beneficiaries.per_account.max must be at least 1 (or new_per_month above 0) when "
                             f"card_transactions.channels.transfer is above 0 "
                             f"({self.card_transactions.channels['transfer']}): transfers go to saved beneficiaries")
        return self

    @model_validator(mode="after")
    def _known_categories(self):
        c = self.card_transactions
        for where, names in (("card_transactions.category_weekly", c.category_weekly),
                             ("card_transactions.category_hourly", c.category_hourly),
                             ("card_transactions.holiday.category_multiplier", c.holiday.category_multiplier),
                             ("customers.business.card_takings.categories",
                              self.customers.business.card_takings.categories)):
            unknown = [n for n in names if n not in self.merchants.categories]
            if unknown:
                raise ValueError(f"{where}: unknown merchant category {unknown[0]!r}; allowed: "
                                 f"{', '.join(self.merchants.categories)}")
        return self

    @model_validator(mode="after")
    def _cross_border_to_destinations(self):
        known = [d.country_code for d in self.geography.destinations]
        unknown = [c for c in self.travel.cross_border.countries if c not in known]
        if unknown:
            raise ValueError(f"travel.cross_border.countries: {unknown[0]!r} is not a travel destination of region "
                             f"{self.region!r}; allowed: {', '.join(known)}")
        return self

    @model_validator(mode="after")
    def _amounts_fund_the_counts(self):
        """Withdrawals and transfers are sized from the budget over how many a customer makes a month; the channel
        mix must leave a typical one above the smallest amount (a note, R10 typed), or the budget would not hold."""
        c, m = self.card_transactions, self.money
        unit = c.reference_unit_value
        categories = self.merchants.categories.values()
        purchase = sum(k.share * min(max(k.median_price * math.exp(k.price_sigma ** 2 / 2), k.min_price), k.max_price)
                       for k in categories) * unit / sum(k.share for k in categories)
        buying = c.channels.get("pos", 0.0) + c.channels.get("online", 0.0)
        for channel, share, least, sigma, fields in (
                ("atm", m.cash_share_of_income, c.atm.amount_step, 0.6,
                 "money.cash_share_of_income, card_transactions.atm.amount_step"),
                ("transfer", m.transfer_share_of_income, TYPED_LEAST, 0.9, "money.transfer_share_of_income")):
            rows = c.channels.get(channel, 0.0)
            if rows <= 0 or share <= 0:
                continue
            if buying > 0:  # incomes are scaled to the purchase volume: the ratio is the same at any per_day
                typical = share / m.card_share_of_income * purchase * buying / rows
            else:
                typical = share * self.reference_income * self.population.customers / (c.per_day * rows * MONTH_DAYS)
            median = typical / math.exp(sigma ** 2 / 2)
            if median < least:
                raise ValueError(
                    f"card_transactions.channels.{channel} ({rows}) makes a typical customer's {channel} payments "
                    f"{median:.2f} each (its share of their budget over how many they make), below the smallest "
                    f"allowed ({least}): lower channels.{channel}, or raise {fields}")
        return self

    @property
    def reference_income(self) -> float:
        """The income of affluence 1: the population's geometric mean of the brackets' median incomes."""
        c = self.customers
        shares = [c.income_bracket[b] for b in c.income_bracket]
        logs = [math.log(c.monthly_income[b].median) for b in c.income_bracket]
        return math.exp(sum(s * x for s, x in zip(shares, logs)) / sum(shares))

    @property
    def horizon_end(self) -> date:
        """The last day that slow changes of genuine life (new payees, new phones, trips, card renewals) are
        planned for: the calendar's end, or a year after the start for an open-ended calendar."""
        return self.end_date or self.start_date + timedelta(days=HORIZON_DAYS - 1)

    def hours_with_rows(self, table: str) -> set[int]:
        """The hours of the day in which rows of an event table can arrive, by the scenario's profiles."""
        every = set(range(24))
        if table in ("web_visits", "applications"):
            visits = {hour for hour, weight in enumerate(self.web_funnel.hourly_weights) if weight > 0}
            return visits if table == "web_visits" else visits | {(hour + 1) % 24 for hour in visits}  # 1–15 min on
        if table == "card_transactions":
            c = self.card_transactions
            if c.channels.get("atm", 0) > 0:
                return every  # withdrawal runs land at any hour
            profiles = [c.hourly[ch] for ch in CHANNELS if c.channels.get(ch, 0) > 0] + list(c.category_hourly.values())
            return {hour for profile in profiles for hour, weight in enumerate(profile) if weight > 0}
        return every  # accounts open 2–24 h after applying; first transactions days later

    @model_validator(mode="after")
    def _planned_batches_have_rows(self):
        for name, entry in self.anomalies.plan.items():
            source = entry.batch - getattr(entry, "delay_batches", 0)  # a late arrival takes rows from earlier
            hours = set(range(source * 3, source * 3 + 3))
            if not hours & self.hours_with_rows(entry.table):
                raise ValueError(f"anomalies.plan.{name}.batch: batch {source} ({source * 3:02d}:00–"
                                 f"{source * 3 + 3:02d}:00) of {entry.table} never has rows under the scenario's "
                                 f"hourly profile, so the anomaly would touch nothing; pick a batch whose hours have "
                                 "weight")
        return self

    @model_validator(mode="after")
    def _conversion_drops_lower_the_rate(self):
        for name, entry in self.anomalies.plan.items():
            if isinstance(entry, ConversionDrop) and entry.application_rate >= self.web_funnel.application_rate:
                raise ValueError(f"anomalies.plan.{name}.application_rate ({entry.application_rate}) must be below "
                                 f"web_funnel.application_rate ({self.web_funnel.application_rate})")
        return self

    @field_validator("region")
    @classmethod
    def _known_region(cls, region: str) -> str:
        if region not in REGIONS:
            raise ValueError(f"unknown region {region!r}; allowed: {', '.join(REGIONS)}")
        return region

    @property
    def geography(self) -> Region:
        return REGIONS[self.region]

    @property
    def content_hash(self) -> str:
        """Identifies the data the scenario produces; where it is stored is not part of it."""
        content = self.model_dump(mode="json", exclude={"storage"})
        return hashlib.sha256(json.dumps(content, separators=(",", ":")).encode()).hexdigest()[:16]
