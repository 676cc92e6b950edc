"""One simulated bank without Dagster: its entities and any of its days, computed from the scenario alone.

The assets and this class call the same generators in the same order, so a day computed here
equals the day a Dagster run stores. Days are computed on demand and the few a neighbouring day
needs are kept, so walking a range in order costs about one day's work a day.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cached_property

import pyarrow as pa

from fraud_pipeline import daily_checks, quality, schemas
from fraud_pipeline.generators import anomalies
from fraud_pipeline.generators import entities as generate
from fraud_pipeline.generators.card_transactions import CardWorld, card_transactions, card_world
from fraud_pipeline.generators.fraud import FraudWorld, fraud_world, inject
from fraud_pipeline.generators.funnel import STAGES, funnel_days, lookback_days
from fraud_pipeline.generators.ground_truth import anomaly_manifest
from fraud_pipeline.generators.profile import baseline_profile
from fraud_pipeline.generators.timeline import baseline_days
from fraud_pipeline.scenario import Scenario

EVENT_TABLES = ("card_transactions", *STAGES)
KEPT_DAYS = 3  # a day's fraud reads the day before; landing's look-back reads only small funnel tables


class Bank:
    """The bank of `scenario`. `entities`: the stored entity tables, if already generated (they are equal)."""

    def __init__(self, scenario: Scenario, entities: dict[str, pa.Table] | None = None):
        self.scenario = scenario
        self._entities = entities
        self._days: dict[str, dict[date, object]] = {}

    @cached_property
    def entities(self) -> dict[str, pa.Table]:
        if self._entities is not None:
            return self._entities
        s = self.scenario
        tables = {"customers": generate.customers(s), "devices": generate.devices(s),
                  "beneficiaries": generate.beneficiaries(s), "merchants": generate.merchants(s),
                  "feature_catalogue": generate.feature_catalogue(schemas.TABLES)}
        tables["accounts"] = generate.accounts(s, tables["customers"], tables["devices"])
        tables["cards"] = generate.cards(s, tables["accounts"])
        tables["account_beneficiaries"] = generate.account_beneficiaries(s, tables["accounts"], tables["beneficiaries"])
        return tables

    @cached_property
    def card_world(self) -> CardWorld:
        e = self.entities
        return card_world(self.scenario, e["customers"], e["accounts"], e["cards"], e["merchants"],
                          e["account_beneficiaries"])

    @cached_property
    def fraud_world(self) -> FraudWorld:
        e = self.entities
        return fraud_world(self.scenario, self.card_world, e["customers"], e["accounts"], e["devices"],
                           e["beneficiaries"])

    def _kept(self, kind: str, day: date, make, keep: int = KEPT_DAYS):
        """The day's value of `kind`, made once; only the `keep` latest days of each kind stay in memory."""
        cache = self._days.setdefault(kind, {})
        if day in cache:
            return cache[day]
        value = cache[day] = make()
        for old in sorted(cache)[:-keep]:
            cache.pop(old, None)
        return value

    def card_transactions(self, day: date) -> pa.Table:
        """The day's clean card transactions."""
        return self._kept("card_transactions", day, lambda: card_transactions(self.scenario, self.card_world, day))

    def fraud(self, day: date) -> tuple[pa.Table, pa.Table]:
        """The day's fraud_transactions and fraud_episodes."""
        def make():
            before = day - timedelta(days=1)
            anchors_before = self.card_transactions(before) if before >= self.scenario.start_date else None
            return inject(self.scenario, self.fraud_world, day, self.card_transactions(day), anchors_before)
        return self._kept("fraud", day, make)

    def funnel(self, day: date) -> dict[str, pa.Table]:
        """The day's four web funnel tables."""
        return self._kept("funnel", day, lambda: dict(funnel_days(self.scenario, [day]))[day],
                          keep=lookback_days(self.scenario) + 2)

    def events(self, day: date) -> dict[str, pa.Table]:
        """The day's clean event tables and its injected fraud (what landing reads)."""
        return {"card_transactions": self.card_transactions(day), "fraud_transactions": self.fraud(day)[0],
                **self.funnel(day)}

    @cached_property
    def profile(self) -> pa.Table:
        """The baseline profile of the first 14 days."""
        days = baseline_days(self.scenario.start_date)
        return baseline_profile({table: {d.isoformat(): self._event(table, d) for d in days} for table in EVENT_TABLES})

    def _event(self, table: str, day: date) -> pa.Table:
        return self.card_transactions(day) if table == "card_transactions" else self.funnel(day)[table]

    def landing(self, day: date) -> tuple[dict[str, pa.Table], pa.Table]:
        """The day's landing tables (anomalies applied and labelled) and its anomaly manifest."""
        accounts = self.entities["accounts"]
        context = anomalies.day_context(self.scenario, day, lambda table, d: self.funnel(d)[table],
                                        lambda: (accounts["account_id"], accounts["avg_balance"].to_numpy()))
        landing, outcomes = anomalies.landing_day(self.scenario, day, self.events(day), context)
        return landing, anomaly_manifest(outcomes, landing, self.profile if outcomes else None)

    def entity_findings(self) -> dict[str, daily_checks.Findings]:
        """Every entity table's checks, as the entity assets compute them."""
        expectations = quality.entity_expectations(self.scenario)
        return {spec.name: daily_checks.entity_findings(spec, self.entities[spec.name], self.entities,
                                                        expectations.get(spec.name, {}))
                for spec in schemas.ENTITY_TABLES}
