"""The entity generators: distributions within stated tolerances, invariants, keys, determinism.

Tolerances are about four binomial standard errors at the default size (20,000 customers),
so an honest generator passes essentially always and a wrong share fails.
"""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fraud_pipeline import schemas
from fraud_pipeline.generators import entities as generate
from fraud_pipeline.generators.columns import luhn_check_digit, luhn_valid, whole_years_between
from fraud_pipeline.quality import entity_expectations, foreign_key_finding, key_findings, value_findings
from fraud_pipeline_tests.conftest import generate_world, scaled

SHARE_TOLERANCE = 0.02  # ± 2 percentage points


def _frame(world, table: str) -> pd.DataFrame:
    return world[table].to_pandas(date_as_object=False)


def _shares(series: pd.Series) -> dict:
    return series.value_counts(normalize=True).to_dict()


def _assert_shares(series: pd.Series, expected: dict, tolerance: float = SHARE_TOLERANCE):
    observed = _shares(series)
    assert set(observed) <= set(expected)
    for key, share in expected.items():
        assert observed.get(key, 0.0) == pytest.approx(share, abs=tolerance), key


def test_every_table_has_its_configured_size_and_exact_schema(world, scenario):
    population = scenario.population
    assert world["customers"].num_rows == population.customers
    assert world["accounts"].num_rows == population.accounts
    assert world["cards"].num_rows == population.accounts
    assert world["devices"].num_rows == population.devices
    assert world["beneficiaries"].num_rows == population.beneficiaries
    assert world["merchants"].num_rows == population.merchants + population.atms
    for name, table in world.items():
        assert table.schema == schemas.TABLES[name].arrow_schema, name


def test_spend_tiers_are_60_30_10_within_their_ranges(world, scenario):
    customers = _frame(world, "customers")
    _assert_shares(customers["spend_tier"], {"low": 0.60, "medium": 0.30, "high": 0.10})
    for tier, bounds in scenario.customers.spend_tiers.items():
        spend = customers.loc[customers["spend_tier"] == tier, "avg_spend"]
        assert spend.between(bounds.min, bounds.max).all()
        # uniform within the tier: the mean sits mid-range (± 3 % of the range)
        assert spend.mean() == pytest.approx((bounds.min + bounds.max) / 2, abs=0.03 * (bounds.max - bounds.min))


@pytest.mark.parametrize("column, config", [
    ("kyc_level", "kyc_level"), ("risk_rating", "risk_rating"), ("occupation", "occupation"),
    ("industry", "industry"), ("income_bracket", "income_bracket"), ("country_risk", "country_risk"), ("sex", "sex"),
])
def test_customer_categories_follow_seed_004_probabilities(world, scenario, column, config):
    _assert_shares(_frame(world, "customers")[column], getattr(scenario.customers, config))


def test_pep_and_device_flag_rates(world, scenario):
    assert _frame(world, "customers")["pep_flag"].mean() == pytest.approx(scenario.customers.pep_rate, abs=0.005)
    devices = _frame(world, "devices")
    assert devices["rooted_flag"].mean() == pytest.approx(scenario.devices.rooted_rate, abs=0.007)
    assert devices["vpn_flag"].mean() == pytest.approx(scenario.devices.vpn_rate, abs=0.008)
    assert devices["emulator_flag"].mean() == pytest.approx(scenario.devices.emulator_rate, abs=0.006)
    _assert_shares(devices["os_type"], scenario.devices.os)
    assert (devices.loc[devices["os_type"] == "windows", "device_type"] == "desktop").all()
    assert (devices.loc[devices["os_type"].isin(["android", "ios"]), "device_type"] == "mobile").all()


def test_ages_lie_in_range_agree_with_birthdates_and_cover_it_evenly(world, scenario):
    customers = _frame(world, "customers")
    bounds = scenario.customers.age
    assert customers["age"].between(bounds.min, bounds.max).all()
    assert customers["age"].min() == bounds.min and customers["age"].max() == bounds.max
    recomputed = whole_years_between(customers["birthdate"].to_numpy().astype("datetime64[D]"), scenario.start_date)
    assert (recomputed == customers["age"].to_numpy()).all()
    # uniform over the range: the mean age is mid-range within a year
    assert customers["age"].mean() == pytest.approx((bounds.min + bounds.max) / 2, abs=1.0)


def test_seed_004_age_range_is_a_scenario_option(small_scenario):
    narrow = scaled(small_scenario, customers={"age": {"min": 21, "max": 70}})
    ages = generate.customers(narrow)["age"].to_numpy()
    assert ages.min() >= 21 and ages.max() <= 70


def test_homes_spread_around_their_province_hub_as_seed_000(world, scenario):
    customers = _frame(world, "customers")
    for province in scenario.geography.provinces:
        homes = customers[customers["home_province"] == province.name]
        lat_off = (homes["home_lat"] - province.hub.lat).abs()
        lon_off = (homes["home_lon"] - province.hub.lon).abs()
        assert lat_off.max() <= province.spread_deg + 1e-6 and lon_off.max() <= province.spread_deg + 1e-6
        # the jitter uses the spread: wide provinces reach well past 1°, compact ones stay within 0.15°
        assert max(lat_off.max(), lon_off.max()) > 0.8 * province.spread_deg, province.name
        lat_min, lat_max, lon_min, lon_max = province.bbox
        assert homes["home_lat"].between(lat_min, lat_max).all() and homes["home_lon"].between(lon_min, lon_max).all()
        cities = {c.name for c in province.cities}
        assert set(homes["home_city"]) <= cities


def test_provinces_follow_population_shares(world, scenario):
    expected = {p.name: p.population_share for p in scenario.geography.provinces}
    _assert_shares(_frame(world, "customers")["home_province"], expected)
    _assert_shares(_frame(world, "merchants")["province"], expected, tolerance=0.03)


def test_emails_are_unique_and_built_from_names(world):
    customers = _frame(world, "customers")
    assert customers["email"].is_unique
    local = customers["email"].str.split("@").str[0].str.rstrip("0123456789")
    first = customers["name"].str.split(" ").str[0].str.lower().str.replace(r"[^a-z]", "", regex=True)
    assert (local.str.split(".").str[0] == first).mean() > 0.99


def test_every_customer_holds_an_account_and_the_first_opens_when_they_join(world, scenario):
    customers, accounts = _frame(world, "customers"), _frame(world, "accounts")
    per_customer = accounts.groupby("customer_id").size()
    assert len(per_customer) == len(customers)
    assert per_customer.sum() == scenario.population.accounts
    first_open = accounts.groupby("customer_id")["opened_date"].min()
    joined = customers.set_index("customer_id")["customer_since"]
    assert (first_open.sort_index() == joined.sort_index()).all()
    assert (accounts["opened_date"] < pd.Timestamp(scenario.start_date)).all()
    # numbered in opening order, as banks number accounts
    assert accounts["opened_date"].is_monotonic_increasing
    assert _frame(world, "customers")["customer_since"].is_monotonic_increasing


def test_accounts_carry_their_holders_risk_attributes_and_one_trusted_device(world):
    accounts = _frame(world, "accounts")
    customers = _frame(world, "customers").set_index("customer_id")
    joined = customers.loc[accounts["customer_id"]]
    for column in generate.DENORMALISED_CUSTOMER_COLUMNS:
        assert (joined[column].to_numpy() == accounts[column].to_numpy()).all(), column
    assert (accounts.groupby("customer_id")["trusted_device_id"].nunique() == 1).all()
    # devices are distinct per customer while there are enough of them
    holders_per_device = accounts.drop_duplicates("customer_id").groupby("trusted_device_id").size()
    assert len(holders_per_device) == len(world["devices"])


def test_balances_are_lognormal_with_the_configured_parameters(world, scenario):
    log_balance = np.log(_frame(world, "accounts")["avg_balance"])
    assert log_balance.mean() == pytest.approx(scenario.accounts.balance_log_mean, abs=0.03)
    assert log_balance.std() == pytest.approx(scenario.accounts.balance_log_sigma, abs=0.03)
    _assert_shares(_frame(world, "accounts")["account_type"], scenario.accounts.account_type)


def test_card_numbers_are_unique_16_digit_luhn_valid_with_network_prefixes(world, scenario):
    cards = _frame(world, "cards")
    assert cards["card_number"].is_unique
    assert cards["card_number"].str.fullmatch(r"\d{16}").all()
    assert luhn_valid(world["cards"]["card_number"].combine_chunks()).all()
    assert cards.loc[cards["network"] == "visa", "card_number"].str.startswith("4").all()
    assert cards.loc[cards["network"] == "mastercard", "card_number"].str[:2].isin(["51", "52", "53", "54", "55"]).all()
    _assert_shares(cards["network"], scenario.cards.network)


def test_cards_belong_to_their_accounts_holder_and_expire_after_start(world, scenario):
    cards, accounts = _frame(world, "cards"), _frame(world, "accounts")
    assert (cards["account_id"].to_numpy() == accounts["account_id"].to_numpy()).all()
    assert (cards["customer_id"].to_numpy() == accounts["customer_id"].to_numpy()).all()
    month = cards["expiry"].str[:2].astype(int)
    year = 2000 + cards["expiry"].str[3:].astype(int)
    months_after = (year - scenario.start_date.year) * 12 + month - scenario.start_date.month
    bounds = scenario.cards.validity_months
    assert months_after.between(bounds.min, bounds.max).all()


def test_luhn_check_digit_matches_known_numbers():
    known_valid = ["4111111111111111", "5500005555555559", "4012888888881881", "5105105105105100"]
    payload = np.array([int(n[:-1]) for n in known_valid])
    assert luhn_check_digit(payload, 15).tolist() == [int(n[-1]) for n in known_valid]
    assert luhn_valid(pa.array(known_valid + ["4111111111111112"])).tolist() == [True] * 4 + [False]


def test_each_account_saves_2_to_5_distinct_beneficiaries_after_opening(world, scenario):
    links = _frame(world, "account_beneficiaries")
    per_account = links.groupby("account_id").size()
    bounds = scenario.beneficiaries.per_account
    assert len(per_account) == scenario.population.accounts
    assert per_account.between(bounds.min, bounds.max).all()
    assert per_account.mean() == pytest.approx((bounds.min + bounds.max) / 2, abs=0.05)
    assert not links.duplicated(["account_id", "beneficiary_id"]).any()
    opened = _frame(world, "accounts").set_index("account_id")["opened_date"]
    added = links["added_date"].to_numpy()
    assert (added >= opened.loc[links["account_id"]].to_numpy()).all()
    assert (links["added_date"] < pd.Timestamp(scenario.start_date)).all()


def test_high_risk_beneficiaries_are_crypto_offshore_or_high_risk_countries(world, scenario):
    beneficiaries = _frame(world, "beneficiaries")
    expected = beneficiaries["beneficiary_type"].isin(["crypto", "offshore"]) | (beneficiaries["country_risk"] == "high")
    assert (beneficiaries["is_high_risk"] == expected).all()
    _assert_shares(beneficiaries["beneficiary_type"], scenario.beneficiaries.type)
    assert beneficiaries.loc[beneficiaries["beneficiary_type"] == "crypto", "beneficiary_name"].str.endswith(" wallet").all()


def test_merchants_follow_seed_003_category_shares_and_atms_come_last(world, scenario):
    merchants = _frame(world, "merchants")
    pos = merchants[merchants["terminal_type"] == "pos"]
    atms = merchants[merchants["terminal_type"] == "atm"]
    assert len(pos) == scenario.population.merchants and len(atms) == scenario.population.atms
    _assert_shares(pos["category"], {k: c.share for k, c in scenario.merchants.categories.items()})
    mcc_of = {k: c.mcc for k, c in scenario.merchants.categories.items()}
    assert (pos["mcc"] == pos["category"].map(mcc_of)).all()
    assert (atms["category"] == "Cash Withdrawal").all() and (atms["mcc"] == scenario.merchants.atm_mcc).all()
    assert (merchants.index[merchants["terminal_type"] == "atm"] >= len(pos)).all()
    assert (atms["merchant_name"] == "ATM " + atms["city"]).all()


def test_every_category_has_a_shop_even_in_a_tiny_world(small_scenario):
    tiny = scaled(small_scenario, population={"merchants": 9})
    assert set(generate.merchants(tiny)["category"].to_pylist()) == {*tiny.merchants.categories, "Cash Withdrawal"}


def test_every_key_is_unique_and_every_foreign_key_resolves(world):
    for spec in schemas.ENTITY_TABLES:
        name = spec.name
        assert all(f.passed for f in key_findings(world[name], spec.primary_key)), name
        for fk in spec.foreign_keys:
            assert foreign_key_finding(world[name][fk.column], world[fk.table][fk.ref_column], "fk").passed, (name, fk)


def test_every_value_is_one_the_scenario_allows(world, scenario):
    for name, expectations in entity_expectations(scenario).items():
        failed = [f for f in value_findings(world[name], expectations) if not f.passed]
        assert not failed, (name, failed)


def test_the_feature_catalogue_lists_every_column_of_every_table_once():
    catalogue = generate.feature_catalogue(schemas.TABLES).to_pandas()
    expected = [(t.name, c.name) for t in schemas.TABLES.values() for c in t.columns]
    assert list(zip(catalogue["table"], catalogue["column"])) == expected
    assert catalogue["description"].str.len().min() > 0
    keys = catalogue.set_index(["table", "column"])["key"]
    assert keys[("accounts", "customer_id")] == "FK → customers.customer_id"
    assert keys[("cards", "card_number")] == "PK"


def test_the_same_scenario_gives_equal_tables_and_another_seed_different_ones(small_scenario):
    first, again = generate_world(small_scenario), generate_world(small_scenario)
    other = generate_world(scaled(small_scenario, seed=small_scenario.seed + 1))
    for name in first:
        assert first[name].equals(again[name]), name
        if name != "feature_catalogue":
            assert not first[name].equals(other[name]), name


def test_a_table_does_not_change_when_another_tables_settings_do(small_scenario):
    """Each table draws from its own streams: retuning accounts leaves customers and devices alone."""
    retuned = scaled(small_scenario, accounts={"status": {"active": 0.5, "dormant": 0.5}})
    assert generate.customers(retuned).equals(generate.customers(small_scenario))
    assert generate.devices(retuned).equals(generate.devices(small_scenario))


def test_spec_build_rejects_columns_that_do_not_match():
    with pytest.raises(ValueError, match=r"missing \['device_type'.*unexpected \['colour'\]"):
        schemas.DEVICES.build({"device_id": ["D1"], "os_type": ["ios"], "device_age_days": [1], "rooted_flag": [False],
                               "vpn_flag": [False], "emulator_flag": [False], "colour": ["red"]})


def test_quality_findings_catch_duplicates_orphans_and_out_of_range_values(world, scenario):
    """The integrity rules can fail: break a copy of each table and they say so."""
    accounts = world["accounts"]
    doubled = pa.concat_tables([accounts, accounts.slice(0, 3)])
    assert [f.failures for f in key_findings(doubled, ("account_id",))] == [0, 3]

    orphan_ids = pc.if_else(pa.array(np.arange(accounts.num_rows) < 2), "C99999999", accounts["customer_id"])
    finding = foreign_key_finding(orphan_ids, world["customers"]["customer_id"], "fk")
    assert (finding.failures, finding.examples) == (2, ["C99999999"])

    young = world["customers"].set_column(5, "age", pa.array(np.full(world["customers"].num_rows, 12, np.int32)))
    findings = {f.rule: f for f in value_findings(young, entity_expectations(scenario)["customers"])}
    assert findings["age between 18 and 100"].failures == young.num_rows
