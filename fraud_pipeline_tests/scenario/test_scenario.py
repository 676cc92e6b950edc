"""Loading and validating the scenario: defaults, user overrides, and an error per class of bad value."""

import pytest
import yaml

from fraud_pipeline.scenario import SCENARIO_ENV, ScenarioError, load_scenario
from fraud_pipeline.scenario.base import STORAGE_URL_ENV
from fraud_pipeline.scenario.loading import DEFAULT_SCENARIO_FILE


def _load_with(tmp_path, text: str, **environ):
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return load_scenario({SCENARIO_ENV: str(path), **environ})


def _error(tmp_path, text: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        _load_with(tmp_path, text)
    return str(caught.value)


def test_defaults_are_seed_004_sizes_in_south_africa(scenario):
    # seed 004's people, accounts and payees; more devices than its 18,000, so many customers also shop or bank
    # from a tablet or laptop
    assert (scenario.population.customers, scenario.population.accounts, scenario.population.devices,
            scenario.population.beneficiaries) == (20_000, 25_000, 30_000, 30_000)
    assert scenario.region == "south_africa" and scenario.geography.currency == "ZAR"
    assert len(scenario.geography.provinces) == 9
    assert scenario.storage.url == "data"
    assert str(scenario.start_date) == "2026-01-01"


def test_a_user_file_overrides_only_what_it_names(tmp_path, scenario):
    loaded = _load_with(tmp_path, "seed: 7\npopulation: {customers: 100, accounts: 150}\n")
    assert loaded.seed == 7
    assert (loaded.population.customers, loaded.population.accounts) == (100, 150)
    assert loaded.population.devices == scenario.population.devices
    assert loaded.customers == scenario.customers


def test_a_table_of_shares_is_replaced_whole_not_merged(tmp_path):
    loaded = _load_with(tmp_path, "customers: {kyc_level: {low: 0.5, high: 0.5}}\n")
    assert loaded.customers.kyc_level == {"low": 0.5, "high": 0.5}


def test_the_storage_url_can_be_overridden_alone(tmp_path):
    loaded = load_scenario({STORAGE_URL_ENV: "s3://bucket/prefix"})
    assert loaded.storage.url == "s3://bucket/prefix"
    both = _load_with(tmp_path, "storage: {url: elsewhere}\n", **{STORAGE_URL_ENV: "s3://bucket/x"})
    assert both.storage.url == "s3://bucket/x"


def test_the_hash_follows_content_not_storage(tmp_path, scenario):
    assert load_scenario({STORAGE_URL_ENV: "s3://bucket/p"}).content_hash == scenario.content_hash
    assert _load_with(tmp_path, "seed: 8\n").content_hash != scenario.content_hash
    assert len(scenario.content_hash) == 16


def test_the_shipped_defaults_are_the_file_itself(scenario):
    assert yaml.safe_load(DEFAULT_SCENARIO_FILE.read_text())["seed"] == scenario.seed


@pytest.mark.parametrize("text, expected", [
    ("population: {customers: -5}", "population.customers: Input should be greater than 0 (got -5)"),
    ("devices: {vpn_rate: 1.5}", "devices.vpn_rate: Input should be less than or equal to 1 (got 1.5)"),
    ("customers: {kyc_level: {low: 0.5, medium: 0.2, high: -0.1}}", "customers.kyc_level.high: Input should be "
                                                                     "greater than or equal to 0"),
    ("customers: {kyc_level: {low: 0.2, medium: 0.5}}", "customers.kyc_level: shares must sum to 1 (got 0.7)"),
    ("customers: {spend_tiers: {low: 0.7, high: 0.2}}", "customers.spend_tiers: shares must sum to 1 (got 0.9)"),
    ("customers: {age_pyramid: [{min_age: 18, max_age: 40, share: 0.5}, {min_age: 30, max_age: 90, share: 0.5}]}",
     "customers.age_pyramid: age bands must be in increasing order"),
    ("merchants: {categories: {Grocery: {share: 1.0, mcc: '5411', min_price: 1, max_price: 50, median_price: 80, "
     "price_sigma: 1, price_points: 0.2, affluence: 0}}}",
     "merchants.categories.Grocery: median_price (80.0) must lie within min_price–max_price (1.0–50.0)"),
    ("card_transactions: {hourly: {pos: [0, 0, 0]}}", "card_transactions.hourly.pos: List should have at least 24"),
    ("card_transactions: {category_weekly: {Groceries: [1, 1, 1, 1, 1, 1, 1]}}",
     "card_transactions.category_weekly: unknown merchant category 'Groceries'"),
    ("customers: {pay_schedule: {salaried: day_30}}", "customers.pay_schedule.salaried: Input should be 'day_25'"),
    ("popuation: {customers: 5}", "popuation: unknown key; allowed keys here: seed, start_date, end_date, region, population"),
    ("customers: {age: {min: 18, max: 80, mean: 40}}", "customers.age.mean: unknown key; allowed keys here: min, max"),
    ("start_date: 2026-13-01", "start_date: Input should be a valid date"),
    ("start_date: next tuesday", "start_date: Input should be a valid date"),
    ("region: mars", "region: unknown region 'mars'; allowed: south_africa"),
    ("population: {customers: 30000}", "population: accounts (25000) must be at least customers (30000)"),
    ("customers: {age: {min: 10, max: 70}}", "customers.age: customer ages must lie within 18–110 (got 10–70)"),
    ("cards: {network: {amex: 1.0}}", "cards.network: unknown card network 'amex'; allowed: visa, mastercard"),
    ("cards: {bin_ranges: live}", "cards.bin_ranges: Input should be 'test' or 'realistic' (got 'live')"),
    ("beneficiaries: {per_account: {min: 5, max: 2}}", "beneficiaries.per_account: min must not exceed max"),
    ("merchants: {atm_mcc: '60111'}", "merchants.atm_mcc: String should match pattern"),
    ("storage: {url: 'gs://bucket/x'}", "storage.url: storage url scheme must be a local path, file:// or s3://"),
    ("seed: forty-two", "seed: Input should be a valid integer"),
    ("population: {merchants: 3}", "population.merchants (3) must be at least the number of merchant categories (9)"),
    ("customers: {sex: {F: 0.5, X: 0.5}}", "customers.sex: unknown sex 'X'; allowed: F, M"),
    ("population: {beneficiaries: 3}", "(top level): beneficiaries.per_account.max (5) must not exceed "
                                       "population.beneficiaries (3)"),
    ("customers: {business: {card_takings: {categories: [Spaza]}}}",
     "customers.business.card_takings.categories: unknown merchant category 'Spaza'; allowed: Grocery"),
    ("customers: {business: {card_takings: {part: {min: 0.5, max: 1.5}}}}",
     "customers.business.card_takings.part: part (0.5–1.5) must lie within 0–1"),
    ("customers: {business: {fixed_costs: {rent: {share: 0.8, due: first_week}}}}",
     "customers.business: wages_share (0.3) and fixed_costs' shares (rent 0.8) must add up to less than 1"),
    ("customers: {business: {fixed_costs: {rent: {share: 0.1, due: monthly}}}}",
     "customers.business.fixed_costs.rent.due: Input should be 'day_25', 'day_15' or 'first_week'"),
])
def test_each_class_of_bad_value_names_the_field_and_what_is_allowed(tmp_path, text, expected):
    assert expected in _error(tmp_path, text)


def test_every_bad_value_is_reported_at_once(tmp_path):
    message = _error(tmp_path, "population: {customers: -5}\nregion: mars\n")
    assert "population.customers" in message and "region" in message
    assert message.startswith(f"Invalid scenario ({tmp_path / 'scenario.yaml'})")


def test_credentials_in_the_storage_url_are_refused_without_being_echoed(tmp_path):
    message = _error(tmp_path, "storage: {url: 's3://AKIAEXAMPLE:s3cr3t@bucket/x'}")
    assert "must not carry credentials" in message
    assert "s3cr3t" not in message and "AKIAEXAMPLE" not in message


def test_a_missing_or_malformed_file_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="is not a file"):
        load_scenario({SCENARIO_ENV: str(tmp_path / "absent.yaml")})
    assert "not valid YAML" in _error(tmp_path, "seed: [1,\n")
    assert "must hold a mapping of sections, not a list" in _error(tmp_path, "- seed\n")


@pytest.mark.parametrize("plan, message", [
    ("x: {days: every, batch: 1, type: meltdown, table: web_visits}",
     "anomalies.plan.x: Input tag 'meltdown' found using 'type' does not match any of the expected tags: 'null_burst', "
     "'age_error', 'traffic_spike', 'fraud_spike', 'limit_spike', 'stale_data', 'conversion_drop', 'duplicate_burst', "
     "'late_arrival'"),
    ("x: {days: every, batch: 8, type: stale_data, table: web_visits, share: 1, hours_behind: 12}",
     "anomalies.plan.x.stale_data.batch: Input should be less than or equal to 7"),
    ("x: {days: every, batch: 1, type: null_burst, table: web_visits, column: colour, share: 0.2}",
     "null_burst cannot target web_visits.colour; allowed: visitor_id, event_type, campaign_id, device_type, geo, "
     "session_duration, event_time"),
    ("x: {days: every, batch: 1, type: null_burst, table: web_visits, column: batch, share: 0.2}",
     "null_burst cannot target web_visits.batch"),
    ("x: {days: every, batch: 1, type: age_error, table: web_visits, column: geo, share: 0.2, age: {min: 10, max: 17},"
     " status: rejected}", "age_error cannot target table 'web_visits'; allowed: applications"),
    ("x: {days: every, batch: 1, type: late_arrival, table: web_visits, share: 0.2, delay_batches: 2}",
     "late_arrival in batch 1 cannot be 2 batches late: delay_batches must be at most the batch"),
    ("x: {days: [8], batch: 1, type: duplicate_burst, table: web_visits, share: 0.2}",
     "plan.x.days: day 8 is outside the 7-day window (allowed: 1–7 or every)"),
    ("x: {days: [2], batch: 1, type: conversion_drop, table: applications, application_rate: 0.3}",
     "anomalies.plan.x.application_rate (0.3) must be below web_funnel.application_rate (0.2)"),
    ("x: {days: [2], batch: 1, type: traffic_spike, table: new_accounts, column: approved_limit, share: 0.5, "
     "volume_multiplier: 2, bot_values: {min: 0, max: 1}}",
     "traffic_spike cannot target table 'new_accounts'; allowed: web_visits, card_transactions"),
])
def test_a_bad_plan_entry_names_the_field_and_what_is_allowed(tmp_path, plan, message):
    assert message in _error(tmp_path, f"anomalies:\n  plan:\n    {plan}\n")


def test_the_plan_merges_entry_by_entry(tmp_path, scenario):
    loaded = _load_with(tmp_path, "anomalies:\n  landing_format: csv\n  plan:\n    campaign_nulls: {share: 0.4}\n"
                                  "    stale_visits: null\n"
                                  "    extra: {days: [3], batch: 0, type: duplicate_burst, table: web_visits, share: 0.1}\n")
    plan = loaded.anomalies.plan
    assert list(plan) == [name for name in scenario.anomalies.plan if name != "stale_visits"] + ["extra"]
    assert plan["campaign_nulls"].share == 0.4 and plan["campaign_nulls"].column == "campaign_id"
    assert loaded.anomalies.landing_format == "csv" and loaded.anomalies.window_days == 7
    assert _error(tmp_path, "anomalies: {landing_format: xml}\n").count("anomalies.landing_format") == 1


def test_account_type_shares_are_refused_with_what_replaced_them(tmp_path):
    """An account's type follows its product (issue 24): a scenario of an earlier release that still draws it is
    told where the field went, naming it."""
    message = _error(tmp_path, "accounts:\n  account_type: {retail: 0.5, savings: 0.5}\n")
    assert "accounts" in message and "account_type is no longer drawn" in message and "credit_card" in message
