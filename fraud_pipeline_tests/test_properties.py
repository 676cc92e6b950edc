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
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraud_pipeline import daily_checks, formats, schemas
from fraud_pipeline.bank import Bank
from fraud_pipeline.definitions import build_definitions
from fraud_pipeline.generators.timeline import BASELINE_DAYS
from fraud_pipeline.scenario import CHANNELS, Scenario, ScenarioError, load_scenario, with_overrides
from fraud_pipeline.storage import ObjectStore

DEFAULT = load_scenario({})
START_DATES = [date(2028, 2, 29), date(2027, 12, 31), date(2026, 12, 25), date(2027, 6, 15), date(2024, 2, 28),
               date(2026, 1, 1)]
PLAN = list(DEFAULT.anomalies.plan)
FIELDS = ("seed", "start_date", "end_date", "population", "customers", "accounts", "cards", "devices",
          "beneficiaries", "merchants", "card_transactions", "fraud", "web_funnel", "anomalies")


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
                     "closing": {"share": draw(st.sampled_from([0.0, 0.5])), "within_days": 3}},
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


def failing(findings: daily_checks.Findings) -> list[str]:
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
                         failing(daily_checks.funnel_findings(scenario, funnel[spec.name], day, spec))]
        problems += [f"{day} funnel_order {p}" for p in
                     failing({"funnel_order": daily_checks.funnel_order_findings(funnel, earlier)})]
        landing, manifest = bank.landing(day)
        problems += [f"{day} manifest {p}" for p in failing(daily_checks.manifest_findings(manifest, landing))]
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
        result = dg.materialize(definitions.assets, selection=selection, resources={"store": store}, tags=tags,
                                instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
        failed = [f"{e.asset_key.to_user_string()}.{e.check_name}: {e.description}"
                  for e in result.get_asset_check_evaluations() if not e.passed]
        assert result.success and not failed, failed


def _range(first: date, last: date) -> dict:
    return {"dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat()}
