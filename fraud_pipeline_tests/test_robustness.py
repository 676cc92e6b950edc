"""Inputs that once crashed half-way or were silently wrong: each now runs to the end with its checks passing,
or is rejected when the code location loads, naming the field."""

from datetime import date, timedelta

import dagster as dg
import pytest

from fraud_pipeline.bank import Bank
from fraud_pipeline.definitions import build_definitions
from fraud_pipeline.scenario import ScenarioError
from fraud_pipeline.storage import ObjectStore
from fraud_pipeline_tests.conftest import scaled

SMOKE = {"population": {"customers": 500, "accounts": 600, "devices": 400, "beneficiaries": 700, "merchants": 120,
                        "atms": 30},
         "card_transactions": {"per_day": 3000}, "web_funnel": {"visitors_per_day": 600}}


def _materialize(definitions, store, selection, first: str, last: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(definitions.assets, selection=selection, resources={"store": store},
                          instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
                          tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last})


def _failed_checks(result: dg.ExecuteInProcessResult) -> list[str]:
    return [f"{e.check_name}: {e.description}" for e in result.get_asset_check_evaluations() if not e.passed]


@pytest.mark.parametrize("changes", [
    {"card_transactions": {"per_day": 3000, "channels": {"pos": 0.80, "online": 0.12, "transfer": 0.08, "atm": 0.0}}},
    {"card_transactions": {"per_day": 30}},
], ids=["no-atms", "30-a-day"])
def test_a_day_without_atm_withdrawals_writes_fraud_tables_without_atm_abroad_and_passes(scenario, tmp_path, changes):
    small = scaled(scenario, **{**SMOKE, **changes})
    store = ObjectStore(root_url=str(tmp_path / "data"))
    definitions = build_definitions(small)
    entities = dg.materialize(definitions.assets, selection=dg.AssetSelection.groups("entities"),
                              resources={"store": store}, instance=dg.DagsterInstance.ephemeral())
    assert entities.success
    result = _materialize(definitions, store, dg.AssetSelection.groups("events", "fraud"), "2026-01-01", "2026-01-02")
    assert result.success and not _failed_checks(result), _failed_checks(result)
    for day in ("2026-01-01", "2026-01-02"):
        assert store.read_manifest("fraud", "fraud_transactions", partition=day) is not None
        if "channels" in changes["card_transactions"]:  # no withdrawal at home to start cash abroad from
            fraud = store.read_table("fraud", "fraud_transactions", partition=day)
            assert "atm_abroad" not in fraud["fraud_scenario"].to_pylist()


def test_a_calendar_next_year_materialises(scenario, tmp_path):
    ahead = scaled(scenario, **SMOKE, start_date="2027-01-01")
    store = ObjectStore(root_url=str(tmp_path / "data"))
    definitions = build_definitions(ahead)
    assert dg.materialize(definitions.assets, selection=dg.AssetSelection.groups("entities"),
                          resources={"store": store}, instance=dg.DagsterInstance.ephemeral()).success
    result = _materialize(definitions, store, dg.AssetSelection.groups("events"), "2027-01-20", "2027-01-21")
    assert result.success and not _failed_checks(result)
    assert store.read_manifest("events", "card_transactions", partition="2027-01-21")["rows"] > 0


@pytest.mark.parametrize("changes, message", [
    ({"beneficiaries": {"per_account": {"min": 0, "max": 0}}},
     "beneficiaries.per_account.max must be at least 1 when card_transactions.channels.transfer is above 0"),
    ({"population": {**SMOKE["population"], "devices": 1}},
     "population.devices (1) must be at least 2 while high_velocity, account_takeover, card_fraud_chain is enabled"),
    ({"web_funnel": {"visitors_per_day": 600, "hourly_weights": [0] * 6 + [1] * 18}},
     "anomalies.plan.campaign_nulls.batch: batch 1 (03:00–06:00) of web_visits never has rows"),
    ({"end_date": "2026-01-10"}, "end_date: the calendar 2026-01-01 … 2026-01-10 holds 10 day(s); it needs at least 21"),
])
def test_what_could_only_fail_later_is_rejected_at_load_naming_the_field(scenario, changes, message):
    with pytest.raises(ScenarioError) as error:
        scaled(scenario, **{**SMOKE, **changes})
    assert message in str(error.value)


def test_accounts_without_saved_payees_make_no_transfers_and_the_others_pay_theirs(scenario):
    small = scaled(scenario, **SMOKE, beneficiaries={"per_account": {"min": 0, "max": 1}})
    bank = Bank(small)
    links = bank.entities["account_beneficiaries"].to_pandas()
    transfers = bank.card_transactions(date(2026, 1, 3)).to_pandas().query("channel == 'transfer'")
    assert len(transfers) > 0
    assert set(zip(transfers["account_id"], transfers["beneficiary_id"])) <= set(zip(links["account_id"],
                                                                                      links["beneficiary_id"]))
    payers = set(links["account_id"])
    assert set(transfers["account_id"]) <= payers and len(payers) < small.population.accounts


def test_a_tiny_bank_of_one_customer_runs_every_day_of_its_window(scenario):
    one = scaled(scenario, population={"customers": 1, "accounts": 1, "devices": 2, "beneficiaries": 5,
                                       "merchants": 9, "atms": 1}, card_transactions={"per_day": 1},
                 web_funnel={"visitors_per_day": 1})
    bank = Bank(one)
    for offset in range(14, 21):
        landing, manifest = bank.landing(one.start_date + timedelta(days=offset))
        assert manifest.num_rows == len([e for e in one.anomalies.plan.values()
                                         if e.days == "every" or offset - 13 in e.days])
