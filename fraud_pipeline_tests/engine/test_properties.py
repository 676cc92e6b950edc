"""Property-based: any scenario the validator accepts runs to the end with every check passing.

Hypothesis draws small scenarios from the edges of what the model allows — populations down to one,
shares with zeros, rates at 0 and high, every landing format, start dates on leap days, year ends
and in the future, plans with and without each anomaly type — and each example is either rejected
at load with the field named, or runs the pipeline over a few baseline days and the first window
days with every check the assets compute passing, and every landing file reading back exactly.

The normal suite runs a few dozen examples through the pure pipeline (`Bank`, the generators and
checks the assets call); the slow test runs a handful through Dagster itself.
"""

from datetime import date, timedelta

import dagster as dg
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraud_pipeline_tests.conftest import run_resources
from fraud_pipeline.core import schemas
from fraud_pipeline.core.findings import Findings
from fraud_pipeline.core.timeline import BASELINE_DAYS
from fraud_pipeline.definitions import build_definitions
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.io import formats
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline.life.checks import funnel_findings, funnel_order_findings
from fraud_pipeline.life.funnel import lookback_days
from fraud_pipeline.quality.checks import manifest_findings
from fraud_pipeline.scenario import Scenario, ScenarioError, load_scenario, with_overrides
from fraud_pipeline.scenario.base import CHANNELS

DEFAULT = load_scenario({})
START_DATES = [date(2028, 2, 29), date(2027, 12, 31), date(2026, 12, 25), date(2027, 6, 15), date(2024, 2, 28),
               date(2026, 1, 1)]
PLAN = list(DEFAULT.anomalies.plan)
FIELDS = ("seed", "start_date", "end_date", "population", "customers", "accounts", "cards", "devices",
          "beneficiaries", "merchants", "card_transactions", "money", "travel", "fraud", "web_funnel", "anomalies")


def shares(names, allow_zero=True):
    """Shares over `names` summing to 1, some of them exactly 0 (at least one positive)."""
    weights = st.lists(st.sampled_from([0, 0, 1, 2, 5]) if allow_zero else st.integers(1, 5),
                       min_size=len(names), max_size=len(names))

    def normalised(w):
        w = list(w)
        if not any(w):
            w[0] = 1
        total = sum(w)
        values = [round(x / total, 6) for x in w]
        values[max(range(len(w)), key=lambda i: w[i])] += round(1 - sum(values), 6)
        return dict(zip(names, values))
    return weights.map(normalised)


RATES = st.sampled_from([0.0, 0.0001, 0.003, 0.05, 0.2])
# Extra plan entries, one per operator, on any batch of a table it may target.
EXTRA_ENTRIES = [
    {"type": "null_burst", "table": "card_transactions", "column": "merchant_id", "share": 0.5},
    {"type": "null_burst", "table": "new_account_transactions", "column": "amount", "share": 1.0},
    {"type": "traffic_spike", "table": "card_transactions", "column": "amount", "share": 0.5, "volume_multiplier": 3,
     "bot_values": {"min": 1, "max": 2}},
    {"type": "fraud_spike", "table": "card_transactions", "column": "amount", "share": 0.3,
     "of_limit": {"min": 0.7, "max": 0.9}},
    {"type": "stale_data", "table": "new_accounts", "share": 1.0, "hours_behind": 2},
    {"type": "duplicate_burst", "table": "applications", "share": 0.5},
    {"type": "late_arrival", "table": "web_visits", "share": 0.5, "delay_batches": 1},
]


@st.composite
def overrides(draw) -> dict:
    customers = draw(st.integers(1, 30))
    start = draw(st.sampled_from(START_DATES))
    destinations = len(DEFAULT.geography.destinations)
    population = {"customers": customers, "accounts": customers + draw(st.integers(0, 15)),
                  "devices": draw(st.integers(1, 40)), "beneficiaries": draw(st.integers(1, 40)),
                  "merchants": draw(st.integers(9, 40)), "atms": draw(st.integers(1, 8)),
                  "online_merchants": draw(st.integers(9, 30)),
                  "foreign_merchants": draw(st.integers(2 * destinations, 3 * destinations)),
                  "foreign_atms": draw(st.integers(destinations, 2 * destinations))}
    per_account_min = draw(st.integers(0, 3))
    fraud = {name: {"enabled": draw(st.booleans()), "rate": draw(RATES), "stealth": draw(st.sampled_from([0, 0.5, 1]))}
             for name in ("card_fraud_chain", "atm_abroad", "high_velocity", "account_takeover")}
    fraud["rings"] = {"count": draw(st.integers(1, 3))}
    fraud["compromise"] = {"points_per_week": draw(st.sampled_from([0, 3, 50]))}
    plan = {name: None for name in draw(st.sets(st.sampled_from(PLAN)))}
    application_rate = draw(st.sampled_from([0.0, 0.2, 1.0]))
    if application_rate <= DEFAULT.anomalies.plan["broken_apply_form"].application_rate:
        plan["broken_apply_form"] = None  # a drop to a rate above the normal one is rejected (tested elsewhere)
    window_days = draw(st.integers(1, 7))
    for number, entry in enumerate(draw(st.lists(st.sampled_from(EXTRA_ENTRIES), max_size=3))):
        plan[f"extra_{number}"] = {**entry, "days": "every", "batch": draw(st.integers(entry.get("delay_batches", 0), 7))}
    for name, entry in DEFAULT.anomalies.plan.items():  # entries for days beyond a shorter window are moved into it
        if entry.days != "every" and max(entry.days) > window_days and name not in plan:
            plan[name] = {"days": [window_days]}
    hourly = draw(st.lists(st.sampled_from([0, 1, 2, 5, 5, 5]), min_size=24, max_size=24))
    return {
        "seed": draw(st.integers(0, 2**31)),
        "start_date": start.isoformat(),
        "end_date": draw(st.sampled_from([None, (start + timedelta(days=20)).isoformat(),
                                          (start + timedelta(days=60)).isoformat()])),
        "population": population,
        "card_transactions": {"per_day": draw(st.sampled_from([1, 7, 30, 150, 600])),
                              "channels": draw(shares(CHANNELS))},
        "fraud": fraud,
        "travel": {"domestic_trips_per_year": draw(st.sampled_from([0.0, 2.0, 20.0])),
                   "abroad_trips_per_year": draw(st.sampled_from([0.0, 0.25, 20.0]))},
        "accounts": {"status": draw(st.sampled_from([{"active": 1.0, "dormant": 0.0, "frozen": 0.0},
                                                     {"active": 0.5, "dormant": 0.25, "frozen": 0.25}])),
                     "closing": {"share": draw(st.sampled_from([0.0, 0.5])), "within_days": 3},
                     "opening_later": draw(st.sampled_from([0.0, 0.12, 0.9]))},
        "beneficiaries": {"per_account": {"min": per_account_min, "max": per_account_min + draw(st.integers(0, 3))},
                          "new_per_month": draw(st.sampled_from([0.0, 0.35, 10.0]))},
        "web_funnel": {"visitors_per_day": draw(st.sampled_from([1, 5, 40, 200])),
                       "hourly_weights": hourly if any(hourly) else [1] * 24,
                       "application_rate": application_rate,
                       "approval_rate": draw(st.sampled_from([0.0, 0.6, 1.0])),
                       "first_transaction_rate": draw(st.sampled_from([0.0, 0.1, 1.0]))},
        "anomalies": {"landing_format": draw(st.sampled_from(["parquet", "ndjson", "csv"])), "plan": plan,
                      "window_days": window_days, "after_window": draw(st.sampled_from(["repeat", "clean"]))},
    }


def load(changes: dict) -> Scenario:
    return with_overrides(DEFAULT, changes, "hypothesis")


def run_days(scenario: Scenario) -> list[date]:
    """Three days from the start (the calendar's first days have no history) and the first two window days."""
    first = scenario.start_date
    return [first, first + timedelta(days=1), first + timedelta(days=2),
            first + timedelta(days=BASELINE_DAYS), first + timedelta(days=BASELINE_DAYS + 1)]


def failing(findings: Findings) -> list[str]:
    return [f"{name}: {f.rule} ({f.failures} rows, e.g. {f.examples})" for name, found in findings.items()
            for f in found if not f.passed]


def run_pipeline(scenario: Scenario) -> list[str]:
    """Every check of the pipeline over `run_days`, as the assets compute them; returns what failed."""
    bank, problems = Bank(scenario), []
    for name, findings in bank.entity_findings().items():
        problems += [f"{name} {p}" for p in failing(findings)]
    for day in run_days(scenario):
        problems += [f"{day} account activity {p}" for p in failing(bank.day_findings(day))]
        problems += [f"{day} fraud {p}" for p in failing(bank.fraud_findings(day))]
        funnel = bank.funnel(day)
        earlier = {stage: [bank.funnel(d)[stage] for d in _days_before(scenario, day)] for stage in funnel}
        for spec in schemas.FUNNEL_TABLES:
            problems += [f"{day} {spec.name} {p}" for p in
                         failing(funnel_findings(scenario, funnel[spec.name], day, spec))]
        problems += [f"{day} funnel_order {p}" for p in
                     failing({"funnel_order": funnel_order_findings(funnel, earlier)})]
        landing, manifest = bank.landing(day)
        problems += [f"{day} manifest {p}" for p in failing(manifest_findings(manifest, landing))]
        fmt = scenario.anomalies.landing_format
        for name, table in landing.items():
            back = formats.decode(formats.encode(table, fmt), fmt, table.schema)
            if not back.equals(table):
                problems.append(f"{day} landing {name} does not read back from {fmt}")
    return problems


def _days_before(scenario: Scenario, day: date) -> list[date]:
    return [d for d in (day - timedelta(days=back) for back in (2, 1)) if d >= scenario.start_date]


def accepted_or_named(changes: dict) -> Scenario | None:
    """The scenario, or None when the validator rejects it — in which case it must name a field."""
    try:
        return load(changes)
    except ScenarioError as error:
        assert any(field in str(error) for field in FIELDS), str(error)
        return None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(overrides())
def test_any_accepted_scenario_runs_with_every_check_passing(changes):
    scenario = accepted_or_named(changes)
    if scenario is not None:
        assert run_pipeline(scenario) == []


DAILY_TABLES = ("card_transactions", "fraud_transactions", "fraud_episodes", "aml_cases", "aml_reports",
                "account_balances", "card_events", "customer_events", "web_visits", "applications", "new_accounts",
                "new_account_transactions")


def stored_days(bank: Bank, days: list[date]) -> dict[date, dict[str, pa.Table]]:
    """Each day's tables, as the daily assets store them."""
    found = {}
    for day in days:
        result = bank.day(day)
        found[day] = {"card_transactions": result.transactions, "fraud_transactions": result.fraud_transactions,
                      "fraud_episodes": result.fraud_episodes, "aml_cases": result.aml_cases,
                      "aml_reports": result.aml_reports, "account_balances": result.account_balances,
                      "card_events": result.card_events, "customer_events": result.customer_events,
                      **bank.funnel(day)}
    return found


def unresolved_keys(scenario: Scenario, entities: dict[str, pa.Table],
                    days: dict[date, dict[str, pa.Table]]) -> list[str]:
    """Every foreign key the specs document (and so DATASET.md and the feature catalogue), checked in the stored
    tables: into entities always; into a daily table within the stored days, for rows far enough after the first
    stored day that what they reference is stored too (an episode's record may be the day before; a funnel
    stage's parent up to the funnel's delays before)."""
    # how many days before a row what it references may be: an episode's record the day before (a card is blocked
    # when its fraud is learned, up to the longest label delay later), a funnel stage's parent up to its delays
    learned = max(getattr(scenario.fraud, name).label_delay_days.max for name in
                  ("card_fraud_chain", "atm_abroad", "high_velocity", "account_takeover"))
    reach = {("card_events", "fraud_episode_id"): int(learned) + 2}
    reach.update({(name, fk.column): 1 for name in DAILY_TABLES for fk in schemas.TABLES[name].foreign_keys
                  if (fk.table == "fraud_episodes" or fk.also) and (name, fk.column) not in reach})
    reach.update({(name, fk.column): lookback_days(scenario) for name in DAILY_TABLES
                  for fk in schemas.TABLES[name].foreign_keys if fk.table in ("web_visits", "applications",
                                                                               "new_accounts")})
    first = min(days)
    problems = []
    for name in DAILY_TABLES:
        spec = schemas.TABLES[name]
        for fk in spec.foreign_keys:
            for day, tables in days.items():
                if (day - first).days < reach.get((name, fk.column), 0):
                    continue
                values = set(tables[name][fk.column].drop_null().to_pylist())
                known: set = set()
                for table, column in fk.targets:
                    if table in entities:
                        known |= set(entities[table][column].to_pylist())
                    else:
                        known |= {v for t in days.values() for v in t[table][column].drop_null().to_pylist()}
                missing = values - known
                if missing:
                    problems.append(f"{day} {name}.{fk.column} → {fk}: {len(missing)} unresolved, e.g. "
                                    f"{sorted(missing)[:3]}")
    return problems


def money_problems(bank: Bank, days: list[date]) -> list[str]:
    """Money is conserved over the stored days: every approved debit goes to an account of the bank (credited the
    next day, the same amount), out of the bank (a merchant, an ATM, a payee) or is declined; every credit comes
    from one of those or from outside (a salary, a refund from a merchant, a card repaid from another bank); and the
    accounts' balances move by exactly
    what crossed the bank's edge plus what is still in flight between its accounts."""
    problems, previous_internal = [], None
    accounts = bank.entities["accounts"].to_pandas()
    paid_here = set(accounts.loc[accounts["salary_account"], "customer_id"])
    paid_elsewhere = set(accounts.loc[(accounts["credit_limit"] > 0) & ~accounts["customer_id"].isin(paid_here),
                                      "account_id"])
    cents = lambda values: np.round(np.asarray(values, float) * 100).astype(np.int64)  # noqa: E731
    opening = bank.day(days[0]).opening["balance"].to_numpy()
    edge = in_flight = 0
    for day in days:
        result = bank.day(day)
        rows = pa.concat_tables([result.transactions, result.fraud_transactions]).to_pandas()
        moved = rows[rows["status"] == "approved"]
        debit, internal = moved["direction"] == "debit", moved["counterparty_account_id"].notna()
        nowhere = debit & ~internal & moved["merchant_id"].isna() & moved["beneficiary_id"].isna()
        # from outside: income of any kind, banked cash, interest, a merchant's refund, a card acquirer's settlement,
        # a transfer from someone at another bank (named), or a card's repayment from another bank (its holder is
        # paid there: no salary account here)
        from_outside = ["salary", "pension", "grant", "client_payment", "cash_deposit", "interest", "refund",
                        "card_settlement"]
        unexplained = ~debit & ~internal & ~moved["transaction_type"].isin(from_outside) & ~(
            (moved["transaction_type"] == "transfer_in") & (moved["account_id"].isin(paid_elsewhere)
                                                             | moved["beneficiary_id"].notna()))
        refund_without_shop = (moved["transaction_type"] == "refund") & moved["merchant_id"].isna()
        problems += [f"{day}: {int(x.sum())} {what}" for x, what in (
            (nowhere, "debits going nowhere"), (unexplained, "credits from nowhere"),
            (refund_without_shop, "refunds from no merchant")) if x.any()]
        sent = moved[debit & internal]
        received = moved[~debit & internal]
        if previous_internal is not None:
            pairs = lambda f, a, b: sorted(zip(f[a], f[b], cents(f["amount"])))  # noqa: E731
            if pairs(previous_internal, "account_id", "counterparty_account_id") != pairs(
                    received, "counterparty_account_id", "account_id"):
                problems.append(f"{day}: transfers between our accounts yesterday are not today's credits")
        previous_internal = sent
        edge += cents(moved.loc[~debit & ~internal, "amount"]).sum() - cents(moved.loc[debit & ~internal, "amount"]).sum()
        in_flight += cents(received["amount"]).sum() - cents(sent["amount"]).sum()
    closing = bank.day(days[-1]).account_balances["balance"].to_numpy()
    if cents(closing).sum() - cents(opening).sum() != edge + in_flight:
        problems.append(f"balances moved {cents(closing).sum() - cents(opening).sum()} cents; across the bank's edge "
                        f"and between its accounts {edge + in_flight}")
    return problems


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(overrides(), st.integers(0, 12), st.integers(2, 4))
def test_money_is_conserved_and_every_documented_key_resolves_over_any_stored_range(changes, offset, length):
    """Over a range of days anywhere in the calendar (not only from its start), as stored."""
    scenario = accepted_or_named(changes)
    if scenario is None:
        return
    first = scenario.start_date + timedelta(days=offset)
    days = [first + timedelta(days=k) for k in range(length)]
    if scenario.end_date is not None:
        days = [d for d in days if d <= scenario.end_date]
    bank = Bank(scenario)
    assert money_problems(bank, days) == []
    assert unresolved_keys(scenario, bank.entities, stored_days(bank, days)) == []


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
          derandomize=True)
@given(changes=overrides())
def test_any_accepted_scenario_runs_through_dagster_with_every_check_passing(tmp_path_factory, changes):
    scenario = accepted_or_named(changes)
    if scenario is None:
        return
    store = ObjectStore(root_url=str(tmp_path_factory.mktemp("data")))
    definitions = build_definitions(scenario)
    days = run_days(scenario)
    runs = [(dg.AssetSelection.groups("entities"), {}),
            (dg.AssetSelection.groups("events", "fraud"), _range(scenario.start_date, days[-1])),
            (dg.AssetSelection.assets("baseline_profile", "anomaly_schedule"), {}),
            (dg.AssetSelection.groups("landing") - dg.AssetSelection.assets("baseline_profile", "anomaly_schedule"),
             _range(days[-2], days[-1]))]
    for selection, tags in runs:
        result = dg.materialize(definitions.assets, selection=selection, resources=run_resources(store), tags=tags,
                                instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
        failed = [f"{e.asset_key.to_user_string()}.{e.check_name}: {e.description}"
                  for e in result.get_asset_check_evaluations() if not e.passed]
        assert result.success and not failed, failed


def _range(first: date, last: date) -> dict:
    return {"dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat()}
