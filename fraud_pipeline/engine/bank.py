"""One simulated bank without Dagster: its entities and any of its days, computed from the scenario alone.

The assets and this class call the same generators in the same order, so a day computed here equals
the day a Dagster run stores. A day starts from the state the day before ended in: the bank walks
forward from the latest state it has (in memory, stored, or the calendar's start), so asking for the
days of a range in order costs one day's work a day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import cached_property

import pyarrow as pa

from fraud_pipeline.aml.checks import aml_findings
from fraud_pipeline.core import schemas
from fraud_pipeline.core.findings import Findings
from fraud_pipeline.core.timeline import baseline_days
from fraud_pipeline.engine.bank_day import BankDay, BankState, initial_bank_state, simulate_bank_day
from fraud_pipeline.fraud.checks import fraud_findings
from fraud_pipeline.life.checks import clickstream_findings
from fraud_pipeline.life.funnel import STAGES, funnel_days, lookback_days
from fraud_pipeline.money.checks import card_findings, ledger_findings, lifecycle_findings
from fraud_pipeline.quality import anomalies
from fraud_pipeline.quality.ground_truth import anomaly_manifest
from fraud_pipeline.quality.profile import baseline_profile
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.world.build import World, build_world
from fraud_pipeline.world.checks import entity_expectations, entity_findings
from fraud_pipeline.world.entities import entity_tables

KEPT_DAYS = 2  # a day's checks read the day before


class Bank:
    """The bank of `scenario`.

    `entities`: the stored entity tables, if already generated (they are equal to generated ones).
    `stored_state(day)`: the stored state at the start of `day`, or None — lets a day start from storage
    instead of walking from the calendar's start.
    """

    def __init__(self, scenario: Scenario, entities: dict[str, pa.Table] | None = None,
                 stored_state: Callable[[date], BankState | None] | None = None):
        self.scenario = scenario
        self._entities = entities
        self._stored_state = stored_state
        self._state: BankState | None = None  # the latest state in memory: the start of the day after the last one
        self._days: dict[str, dict[date, object]] = {}

    @cached_property
    def entities(self) -> dict[str, pa.Table]:
        return self._entities if self._entities is not None else entity_tables(self.scenario)

    @cached_property
    def world(self) -> World:
        return build_world(self.scenario, self.entities)

    def _kept(self, kind: str, day: date, make, keep: int = KEPT_DAYS):
        """The day's value of `kind`, made once; only the `keep` latest days of each kind stay in memory."""
        cache = self._days.setdefault(kind, {})
        if day in cache:
            return cache[day]
        value = cache[day] = make()
        for old in sorted(cache)[:-keep]:
            cache.pop(old, None)
        return value

    def state_at(self, day: date) -> BankState:
        """The state at the start of `day` (from memory, storage, or by walking from the latest one before)."""
        if day < self.scenario.start_date:
            raise ValueError(f"{day} is before the calendar starts ({self.scenario.start_date})")
        if self._state is not None and self._state.day == day:
            return self._state
        start = self._latest_state_before(day)
        state = start
        while state.day < day:
            state = self._simulate(state).state
        return state

    def _latest_state_before(self, day: date) -> BankState:
        candidates = [self._state] if self._state is not None and self._state.day <= day else []
        floor = candidates[0].day if candidates else self.scenario.start_date
        if self._stored_state is not None:
            probe = day
            while probe > floor:
                found = self._stored_state(probe)
                if found is not None:
                    return found
                probe -= timedelta(days=1)
        return candidates[0] if candidates else initial_bank_state(self.world)

    def _simulate(self, state: BankState) -> BankDay:
        result = simulate_bank_day(self.world, state, state.day)
        self._state = result.state
        self._days.setdefault("day", {})[state.day] = result
        for old in sorted(self._days["day"])[:-KEPT_DAYS]:
            self._days["day"].pop(old, None)
        return result

    def day(self, day: date) -> BankDay:
        """The day's tables (transactions, fraud, episodes, balances, card events) and its end state."""
        cached = self._days.get("day", {}).get(day)
        return cached if cached is not None else self._simulate(self.state_at(day))

    def card_transactions(self, day: date) -> pa.Table:
        return self.day(day).transactions

    def fraud(self, day: date) -> tuple[pa.Table, pa.Table]:
        """The day's fraud_transactions and fraud_episodes."""
        found = self.day(day)
        return found.fraud_transactions, found.fraud_episodes

    def funnel(self, day: date) -> dict[str, pa.Table]:
        """The day's four web funnel tables."""
        return self._kept("funnel", day, lambda: dict(funnel_days(self.scenario, [day]))[day],
                          keep=lookback_days(self.scenario) + 2)

    def events(self, day: date) -> dict[str, pa.Table]:
        """The day's clean event tables and its fraud (what landing reads)."""
        found = self.day(day)
        return {"card_transactions": found.transactions, "fraud_transactions": found.fraud_transactions,
                "customer_events": found.customer_events, **self.funnel(day)}

    @cached_property
    def profile(self) -> pa.Table:
        """The baseline profile of the first 14 days."""
        days = baseline_days(self.scenario.start_date)
        tables = {table: {} for table in schemas.EVENT_TABLE_NAMES}
        for d in days:
            tables["card_transactions"][d.isoformat()] = self.card_transactions(d)
            tables["customer_events"][d.isoformat()] = self.day(d).customer_events
            for stage in STAGES:
                tables[stage][d.isoformat()] = self.funnel(d)[stage]
        return baseline_profile(tables)

    def landing(self, day: date) -> tuple[dict[str, pa.Table], pa.Table]:
        """The day's landing tables (anomalies applied and labelled) and its anomaly manifest."""
        accounts = self.entities["accounts"]
        context = anomalies.day_context(self.scenario, day, lambda table, d: self.funnel(d)[table],
                                        lambda: (accounts["account_id"], accounts["avg_balance"].to_numpy()))
        landing, outcomes = anomalies.landing_day(self.scenario, day, self.events(day), context)
        return landing, anomaly_manifest(outcomes, landing, self.profile if outcomes else None)

    def day_findings(self, day: date) -> Findings:
        """The checks of a day's account activity, as its asset computes them: keys, foreign keys and times of the
        genuine rows, and the ledger and card lifecycle over the whole labelled stream."""
        result = self.day(day)
        stream = pa.concat_tables([result.transactions, result.fraud_transactions])
        cards = result.cards
        findings = card_findings(self.scenario, result.transactions, day, self.entities,
                                              cards=cards["cards"]["card_number"])
        findings["ledger_balances"] = ledger_findings(stream, result.account_balances, result.opening,
                                                                   self.entities["accounts"])
        findings["lifecycle_respected"] = lifecycle_findings(stream, result.account_balances,
                                                                          cards["blocked"], cards["expiry"])
        return findings

    def clickstream_findings(self, day: date) -> Findings:
        """The checks of a day's clickstream, as its asset computes them: against the day's labelled stream."""
        result = self.day(day)
        return clickstream_findings(self.scenario, result.customer_events,
                                                 pa.concat_tables([result.transactions, result.fraud_transactions]),
                                                 day, self.entities)

    def fraud_findings(self, day: date) -> Findings:
        """The checks of a day's fraud, as its asset computes them (against the day before, when in the calendar)."""
        result = self.day(day)
        before = day - timedelta(days=1)
        earlier = self.day(before) if before >= self.scenario.start_date else None
        return fraud_findings(self.scenario, result.fraud_transactions, result.fraud_episodes,
                                           result.transactions, earlier.transactions if earlier else None,
                                           earlier.fraud_episodes if earlier else None, day, result.account_balances)

    def aml_findings(self, day: date) -> Findings:
        """The checks of a day's laundering, as the `aml_cases` asset computes them."""
        result = self.day(day)
        return aml_findings(self.scenario, result.transactions, result.aml_cases, result.aml_reports, day)

    def entity_findings(self) -> dict[str, Findings]:
        """Every entity table's checks, as the entity assets compute them."""
        expectations = entity_expectations(self.scenario)
        return {spec.name: entity_findings(spec, self.entities[spec.name], self.entities,
                                                        expectations.get(spec.name, {}))
                for spec in schemas.ENTITY_TABLES}
