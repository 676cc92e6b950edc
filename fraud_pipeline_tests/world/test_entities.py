"""The entity generators: distributions within stated tolerances, invariants, keys, determinism.

Tolerances are about four binomial standard errors at the default size (20,000 customers),
so an honest generator passes essentially always and a wrong share fails.
"""

import functools
import ipaddress
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings, strategies as st

import fraud_pipeline
from fraud_pipeline.core import schemas
from fraud_pipeline.core.columns import luhn_check_digit, luhn_valid, whole_years_between
from fraud_pipeline.core.findings import foreign_key_finding, key_findings, value_findings
from fraud_pipeline.world import entities as generate
from fraud_pipeline.world.accounts import DENORMALISED_CUSTOMER_COLUMNS, _first_of_each, families_abroad
from fraud_pipeline.world.build import build_world
from fraud_pipeline.world.checks import entity_expectations, product_findings
from fraud_pipeline.world.fraud_plan import ato_payee_saves
from fraud_pipeline.world.habits import _first_in_row, customer_merchants_of_block
from fraud_pipeline.world.layout import Layout
from fraud_pipeline_tests.conftest import generate_world, scaled

SHARE_TOLERANCE = 0.02  # ± 2 percentage points
# Names no one can hold: the second-level domains of RFC 2606 §3 and the top-level domains of RFC 2606 §2 /
# RFC 6761 §6 (their subdomains too). example.co.za, say, is not among them: anyone may register it.
RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
RESERVED_TLDS = ("example", "test", "invalid")
# Addresses no one can hold: RFC 5737's IPv4 documentation blocks and RFC 3849's IPv6 documentation prefix.
DOCUMENTATION_NETWORKS = tuple(ipaddress.ip_network(n) for n in
                               ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"))


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
    first_cards = pc.sum(pc.is_null(world["cards"]["replaces_card_number"])).as_py()
    assert first_cards == population.accounts  # one card each at the start; renewals on top
    devices = world["devices"].num_rows
    changes = world["device_history"].num_rows - population.customers  # one row per phone: the first, then new ones
    rings = scenario.fraud.rings.count * scenario.fraud.rings.devices.max
    d = scenario.devices  # household and workplace computers of 3–6 users each; one public computer per ~40 users
    shared_users = d.shared_computers.share * population.customers
    public = np.ceil(d.public_computers.share * population.customers / d.public_computers.users_per_computer)
    computers = devices - (population.devices + changes + rings + scenario.fraud.rings.burners)
    mean_users = (d.shared_computers.users.min + d.shared_computers.users.max) / 2
    assert computers == pytest.approx(shared_users / mean_users + public, rel=0.1)
    assert world["beneficiaries"].num_rows == population.beneficiaries
    assert world["merchants"].num_rows == (population.merchants + population.atms + population.online_merchants
                                           + population.foreign_merchants + population.foreign_atms)
    for name, table in world.items():
        assert table.schema == schemas.TABLES[name].arrow_schema, name


def test_spend_tiers_are_60_30_10_by_rank_of_a_smooth_avg_spend(world, scenario):
    customers = _frame(world, "customers")
    # bounds from a calibration sample of the customers' model (`entities._tier_bounds`), the same for every block:
    # the bank's shares within sampling noise (binomial standard deviation at this size about 0.4 %)
    _assert_shares(customers["spend_tier"], {"low": 0.60, "medium": 0.30, "high": 0.10}, tolerance=0.02)
    tiers = customers.groupby("spend_tier")["avg_spend"]
    assert tiers.max()["low"] <= tiers.min()["medium"] and tiers.max()["medium"] <= tiers.min()["high"]
    # no steps inside a tier: its deciles are not evenly spaced (a uniform draw's would be)
    deciles = customers.loc[customers["spend_tier"] == "low", "avg_spend"].quantile(np.linspace(0.1, 0.9, 9))
    steps = np.diff(deciles.to_numpy())
    assert steps.std() / steps.mean() > 0.1
    # richer customers spend more per purchase (Spearman, clearly positive)
    assert customers["avg_spend"].rank().corr(customers["monthly_income"].rank()) > 0.4


@pytest.mark.parametrize("column, config", [
    ("risk_rating", "risk_rating"),
    ("industry", "industry"), ("income_bracket", "income_bracket"), ("country_risk", "country_risk"), ("sex", "sex"),
])
def test_customer_categories_follow_seed_004_probabilities(world, scenario, column, config):
    _assert_shares(_frame(world, "customers")[column], getattr(scenario.customers, config))


def test_pep_and_device_flag_rates(world, scenario):
    assert _frame(world, "customers")["pep_flag"].mean() == pytest.approx(scenario.customers.pep_rate, abs=0.005)
    devices = _frame(world, "devices")
    ordinary = devices.iloc[:scenario.population.devices]  # the rings' own devices favour tampering
    assert ordinary["rooted_flag"].mean() == pytest.approx(scenario.devices.rooted_rate, abs=0.007)
    assert ordinary["vpn_flag"].mean() == pytest.approx(scenario.devices.vpn_rate, abs=0.008)
    assert ordinary["emulator_flag"].mean() == pytest.approx(scenario.devices.emulator_rate, abs=0.006)
    _assert_shares(ordinary["os_type"], scenario.devices.os)
    assert (devices.loc[devices["os_type"] == "windows", "device_type"] == "desktop").all()
    assert devices.loc[devices["os_type"].isin(["android", "ios"]), "device_type"].isin(["mobile", "tablet"]).all()


def test_ages_follow_the_regions_adult_pyramid_and_agree_with_birthdates(world, scenario):
    customers = _frame(world, "customers")
    bounds = scenario.customers.age
    assert customers["age"].between(bounds.min, bounds.max).all()
    recomputed = whole_years_between(customers["birthdate"].to_numpy().astype("datetime64[D]"), scenario.start_date)
    assert (recomputed == customers["age"].to_numpy()).all()
    for band in scenario.customers.age_pyramid:
        share = customers["age"].between(band.min_age, band.max_age).mean()
        assert share == pytest.approx(band.share, abs=0.01), (band.min_age, band.max_age)
    assert (customers["age"] > 90).mean() < 0.005  # a handful over 90, not 12 %


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
    assert (local.str.split(r"[._-]", regex=True).str[0] == first).mean() > 0.99
    # most addresses are plain (a name's plain forms are shared out among the blocks; repeats add a number)
    assert 0.9 < (~customers["email"].str.contains(r"[0-9]@")).mean()


def _reserved_domain(domain: str) -> bool:
    labels = domain.split(".")
    return ((len(labels) >= 2 and labels[-1] in RESERVED_TLDS and all(labels))
            or any(domain == name or domain.endswith("." + name) for name in RESERVED_DOMAINS))


def test_reserved_domain_rule_knows_what_is_reserved():
    assert all(map(_reserved_domain, ["example.com", "mail.example.net", "webmail.za.example", "mobile.test"]))
    assert not any(map(_reserved_domain, ["gmail.com", "example.co.za", "mweb.co.za", "test", "notexample.com"]))


def test_every_email_domain_is_reserved_so_no_address_reaches_anyone(world, scenario):
    """Real providers' domains (gmail.com, telkomsa.net …) with real South African names reach real people."""
    domains = _frame(world, "customers")["email"].str.split("@").str[1]
    assert domains.map(_reserved_domain).all(), sorted(set(domains[~domains.map(_reserved_domain)]))
    assert all(map(_reserved_domain, scenario.geography.email_domains))
    assert domains.nunique() > 3  # still a mix of providers


def test_the_only_contact_columns_are_emails_and_ip_addresses():
    """Guards the next test: a new phone, address or handle column must be added to it."""
    contact = re.compile(r"(^|_)(e?mail|phone|msisdn|mobile|tel|fax|ip|address|url|website|contact|handle)(_|$)")
    assert {c.name for t in schemas.TABLES.values() for c in t.columns if contact.search(c.name)} == {
        "email", "ip_address"}


def _contact_values(tables: dict) -> tuple[set, set]:
    """Every string value of every table that is an e-mail address or an IP address."""
    emails, addresses = set(), set()
    for table in tables.values():
        for field in table.schema:
            if not pa.types.is_string(field.type):
                continue
            values = pc.unique(table[field.name].drop_null()).to_pylist()
            emails |= {v for v in values if re.fullmatch(r"[^@\s]+@[^@\s]+", v)}
            for value in values:
                if ":" in value or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value):
                    try:
                        addresses.add(ipaddress.ip_address(value))
                    except ValueError:
                        pass
    return emails, addresses


def test_no_contact_value_in_any_table_reaches_anyone(world, scenario):
    """Every string of the entity tables and of a day's events (transactions, clickstream, balances, card events,
    the web funnel): e-mails only at reserved domains, IP addresses only in the documentation ranges; and so is
    every address of the world's pools (homes, mobile carriers, VPN exits, abroad, the rings' own)."""
    day = fraud_pipeline.generate(scenario.start_date, scenario)
    emails, addresses = _contact_values({**world, **day})
    assert len(emails) == scenario.population.customers
    assert all(_reserved_domain(e.split("@")[1]) for e in emails)
    assert len(addresses) > 1000  # the day's sessions and payments carry addresses
    pool = build_world(scenario, world).ip_address.to_pylist()
    addresses |= {ipaddress.ip_address(a) for a in pool}
    outside = [str(a) for a in addresses if not any(a in n for n in DOCUMENTATION_NETWORKS)]
    assert not outside, outside[:5]


def test_every_address_of_the_pools_is_distinct_and_written_canonically(world, scenario):
    """Documentation space is small for IPv4 (three /24s: 762 hosts), so the pools must still fit: one home address
    per customer (shared by a household), the shared mobile and VPN pools, addresses abroad, the rings' own."""
    bank = build_world(scenario, world)
    pool = bank.ip_address.to_pylist()
    assert len(set(pool)) == len(pool)
    assert all(str(ipaddress.ip_address(a)) == a for a in pool)  # RFC 5952 text, as a parser writes it back
    homes, member = bank.home_ip, bank.devices.household_phone_of
    alone = member < 0
    assert len(np.unique(homes[alone])) == alone.sum() > 0.9 * len(homes)  # a home address of one's own ...
    assert (homes[~alone] == member[~alone]).all()  # ... or the household member's
    shared = np.concatenate([bank.mobile_ips, bank.vpn_ips, *bank.foreign_ips, bank.ring_ips.ravel()])
    assert len(np.unique(shared)) == len(shared) and not np.isin(shared, homes).any()


def test_every_customer_holds_an_account_and_the_first_opens_when_they_join(world, scenario):
    customers, accounts = _frame(world, "customers"), _frame(world, "accounts")
    per_customer = accounts.groupby("customer_id").size()
    assert len(per_customer) == len(customers)
    assert per_customer.sum() == scenario.population.accounts
    first_open = accounts.groupby("customer_id")["opened_date"].min()
    joined = customers.set_index("customer_id")["customer_since"]
    assert (first_open.sort_index() == joined.sort_index()).all()
    # `accounts.opening_later` of the further accounts open during the horizon, none of them a customer's first,
    # none closing early and none the one income is paid into; the others before the start
    start, end = pd.Timestamp(scenario.start_date), pd.Timestamp(scenario.horizon_end)
    later = accounts["opened_date"] >= start
    further = accounts["opened_date"] > accounts["customer_id"].map(joined)
    assert (accounts["opened_date"][later] <= end).all()
    assert not (later & ~further).any()
    assert later[further].mean() == pytest.approx(scenario.accounts.opening_later, abs=0.02)
    assert not (later & (accounts["closed_date"].notna() | accounts["salary_account"])).any()
    assert (accounts["opening_balance"][later] == 0).all() and (accounts["status"][later] == "active").all()
    # numbered in opening order within each block (a block's rows are its own), as banks number accounts
    layout = Layout.of(scenario)
    for b in range(layout.n_blocks):
        first, end = layout.account_span(b)
        assert accounts["opened_date"].iloc[first:end].is_monotonic_increasing, b
        first, end = layout.customer_span(b)
        assert customers["customer_since"].iloc[first:end].is_monotonic_increasing, b
        assert set(accounts["customer_id"].iloc[slice(*layout.account_span(b))]) == set(
            customers["customer_id"].iloc[first:end]), b  # a block's accounts are its customers' 


def test_accounts_carry_their_holders_risk_attributes_and_one_trusted_device(world):
    accounts = _frame(world, "accounts")
    customers = _frame(world, "customers").set_index("customer_id")
    joined = customers.loc[accounts["customer_id"]]
    for column in DENORMALISED_CUSTOMER_COLUMNS:
        assert (joined[column].to_numpy() == accounts[column].to_numpy()).all(), column
    assert (accounts.groupby("customer_id")["trusted_device_id"].nunique() == 1).all()
    # the trusted device at the start is the customer's first phone in device_history
    history = _frame(world, "device_history").sort_values(["customer_id", "valid_from"])
    first_phone = history.groupby("customer_id")["device_id"].first()
    assert (accounts["trusted_device_id"].to_numpy() == first_phone.loc[accounts["customer_id"]].to_numpy()).all()


def test_money_is_sized_on_income_and_each_customer_has_one_salary_account(world, scenario):
    accounts = _frame(world, "accounts")
    income = accounts["customer_id"].map(_frame(world, "customers").set_index("customer_id")["monthly_income"])
    salary = accounts[accounts["salary_account"]]
    assert salary["customer_id"].is_unique and (salary["status"] == "active").all()
    credit = accounts["credit_limit"] > 0
    _assert_shares(credit.map({True: "credit", False: "debit"}), scenario.cards.card_type)
    # a customer's first account is a debit account, and so is their salary account when they have one active
    first = accounts.drop_duplicates("customer_id")  # in opening order (a later account opened the same day may lead)
    assert (first["credit_limit"] == 0).mean() > 0.99
    active_debit = accounts[(accounts["status"] == "active") & ~credit]["customer_id"].unique()
    on_credit = salary[salary["credit_limit"] > 0]
    assert (salary["credit_limit"] == 0).mean() > 0.98 and not on_credit["customer_id"].isin(active_debit).any()
    limit = scenario.cards.credit_limit_of_income
    given = accounts.loc[credit, "credit_limit"]  # rounded to R100
    assert given.between(limit.min * income[credit] - 50, limit.max * income[credit] + 50).all()
    assert (accounts.loc[credit, "overdraft_limit"] == 0).all()
    card = credit & ~accounts["salary_account"]  # a credit account owes about a month of its purchases
    assert (accounts.loc[card, "opening_balance"] <= 0).all()
    assert (accounts.loc[credit, "opening_balance"] >= -accounts.loc[credit, "credit_limit"]).all()
    assert (salary.loc[salary["credit_limit"] == 0, "opening_balance"] > 0).all()
    # the type is the product: a credit card's account, a business owner's business account (the one their clients
    # pay), a cheque account (a customer's first, opened the day they joined, or the one their income is paid into),
    # or a later debit account for savings
    product = accounts["account_type"]
    assert set(product) == {"current", "savings", "credit_card", "business"}
    assert ((product == "credit_card") == credit).all()
    owners = _frame(world, "customers").set_index("customer_id")["monthly_turnover"].notna()
    business_owner = accounts["customer_id"].map(owners)
    salaried = accounts["salary_account"]
    assert (product[salaried] == np.where(business_owner[salaried], "business", "current")).all()
    assert ((product == "business") == (salaried & business_owner)).all()
    since = accounts["customer_id"].map(_frame(world, "customers").set_index("customer_id")["customer_since"])
    on_joining = accounts["opened_date"] == since
    transactional = product.isin(["current", "business"])
    assert accounts.loc[on_joining & transactional, "customer_id"].nunique() == len(_frame(world, "customers"))
    assert accounts.loc[~on_joining & transactional, "salary_account"].all()
    assert 0.05 < (product == "savings").mean() < 0.12  # 2,000 of 25,000: the later debit accounts
    assert (accounts.loc[~transactional, "overdraft_limit"] == 0).all()
    overdrawn = accounts.loc[transactional, "overdraft_limit"] > 0
    assert overdrawn.mean() == pytest.approx(scenario.accounts.overdraft_share, abs=0.02)
    closing = accounts["closed_date"].notna()
    others = (accounts["status"] == "active") & ~accounts["salary_account"]  # income keeps its account open
    assert not closing[accounts["salary_account"]].any()
    assert closing[others].mean() == pytest.approx(scenario.accounts.closing.share, abs=0.005)


def test_the_accounts_check_names_an_account_whose_limits_or_income_disagree_with_its_product(world):
    accounts = world["accounts"]
    assert all(f.passed for f in product_findings(accounts))
    product = accounts["account_type"].to_pylist()
    savings, credit = product.index("savings"), product.index("credit_card")
    broken = product[:]
    broken[credit] = "savings"  # a "savings" account with a credit limit: seed 004's label drawn on its own
    overdraft = accounts["overdraft_limit"].to_numpy().copy()
    overdraft[savings] = 500.0
    changed = accounts.set_column(accounts.schema.get_field_index("account_type"), "account_type", pa.array(broken))
    changed = changed.set_column(changed.schema.get_field_index("overdraft_limit"), "overdraft_limit",
                                 pa.array(overdraft))
    found = {f.rule: f for f in product_findings(changed)}
    ids = accounts["account_id"].to_pylist()
    assert found["credit_limit > 0 exactly on credit_card accounts"].examples == [ids[credit]]
    assert found["overdraft_limit > 0 only on current and business accounts"].examples == [ids[savings]]
    assert found["salary_account only on current and business accounts"].passed


# The published test card numbers the default BINs come from (Stripe's, Braintree's and PayPal Payflow's sandbox
# lists, TabaPay's): each BIN is the first six digits of one of them.
PUBLISHED_TEST_CARDS = {"visa": ("4242424242424242", "4111111111111111", "4012888888881881"),
                        "mastercard": ("5555555555554444", "5105105105105100", "2223003122003222")}


def _network_shaped(cards: pd.DataFrame) -> bool:
    """Visa starts with 4; Mastercard with 51–55 or 2221–2720."""
    visa = cards.loc[cards["network"] == "visa", "card_number"]
    mastercard = cards.loc[cards["network"] == "mastercard", "card_number"]
    two_series = mastercard.str[:4].astype(int).between(2221, 2720)
    return visa.str.startswith("4").all() and (mastercard.str[:2].isin(["51", "52", "53", "54", "55"])
                                               | two_series).all()


def test_card_numbers_are_unique_16_digit_luhn_valid_on_published_test_bins(world, scenario):
    """By default every number sits on a BIN the processors publish test cards on, not a random live range."""
    cards = _frame(world, "cards")
    assert cards["card_number"].is_unique
    assert cards["card_number"].str.fullmatch(r"\d{16}").all()
    assert luhn_valid(world["cards"]["card_number"].combine_chunks()).all()
    assert _network_shaped(cards)
    for network, numbers in PUBLISHED_TEST_CARDS.items():
        assert luhn_valid(pa.array(numbers)).all()
        used = set(cards.loc[cards["network"] == network, "card_number"].str[:6])
        assert used == {n[:6] for n in numbers}, network
    _assert_shares(cards["network"], scenario.cards.network)


def test_realistic_bin_ranges_draw_the_banks_bins_in_live_ranges(small_scenario):
    """cards.bin_ranges: realistic is the behaviour for BIN-based rules: three random BINs per network in live
    ranges (so numbers may be issued cards'), unique, Luhn-valid; nothing else changes."""
    realistic = scaled(small_scenario, cards={"bin_ranges": "realistic"})
    tables = generate_world(realistic)
    cards = tables["cards"].to_pandas()
    assert cards["card_number"].is_unique and luhn_valid(tables["cards"]["card_number"].combine_chunks()).all()
    assert _network_shaped(cards) and not cards["card_number"].str[:2].eq("22").any()
    published = {n[:6] for numbers in PUBLISHED_TEST_CARDS.values() for n in numbers}
    assert not cards["card_number"].str[:6].isin(published).any()
    assert cards.groupby("network")["card_number"].apply(lambda c: c.str[:6].nunique()).le(3).all()
    assert all(f.passed for f in value_findings(tables["cards"], entity_expectations(realistic)["cards"]))
    assert not all(f.passed for f in value_findings(tables["cards"], entity_expectations(small_scenario)["cards"]))
    default = generate_world(small_scenario)
    assert tables["customers"].equals(default["customers"]) and tables["accounts"].equals(default["accounts"])
    assert (cards["account_id"] == default["cards"]["account_id"].to_pandas()).all()
    serials = default["cards"]["card_number"].to_pandas().str[6:15]
    assert (cards["card_number"].str[6:15] == serials).all()  # the same serials on other BINs


def test_every_card_number_is_unique_over_a_long_horizon_with_renewals_and_replacements(small_scenario):
    """Twenty years: every card is renewed six or seven times; then forty replacements after fraud on every account.
    A handful of test BINs share one serial space, so renewals and replacements must never take a number (an
    account's 34th replacement took the next account's first renewal's)."""
    start = small_scenario.start_date
    long = scaled(small_scenario, end_date=start.replace(year=start.year + 20).isoformat())
    tables = generate_world(long)
    cards = tables["cards"].to_pandas()
    generations = cards.groupby("account_id").size()
    assert generations.max() >= 7
    bank = build_world(long, tables)
    accounts = np.arange(bank.n_accounts)
    replacements = [bank.replacement_number(accounts, np.full(bank.n_accounts, k)) for k in range(40)]
    numbers = pa.concat_arrays([bank.card_number, *replacements])
    assert len(pc.unique(numbers)) == len(numbers) == len(cards) + 40 * bank.n_accounts
    assert luhn_valid(numbers).all() and pc.all(pc.match_substring_regex(numbers, r"^\d{16}$")).as_py()
    # a replacement keeps its account's BIN
    first_bin = cards.drop_duplicates("account_id").set_index("account_id")["card_number"].str[:6]
    owner = bank.account_id.to_pandas()
    for number in replacements[::13]:
        assert (number.to_pandas().str[:6].to_numpy() == first_bin.loc[owner].to_numpy()).all()


def test_card_serials_stay_unique_at_two_million_customers():
    """2,000,000 customers hold about 2,500,000 accounts: renewals and replacements still number every card once,
    in the later half of the 9-digit serial space (the first half is the cards issued before the start)."""
    from fraud_pipeline.world.accounts import FIRST_CARDS, SERIAL_SPACE, later_serial, renewal_slot, replacement_slot
    n = 2_500_000
    account = np.arange(n)
    serials = np.concatenate([later_serial(account, renewal_slot(g), n) for g in (1, 2, 3)]
                             + [later_serial(account, replacement_slot(k), n) for k in (0, 1, 2, 3)])
    assert serials.min() >= FIRST_CARDS and serials.max() < SERIAL_SPACE
    serials.sort()  # (np.unique is twenty times slower here)
    assert (np.diff(serials) > 0).all()
    with pytest.raises(ValueError, match="serial space"):
        later_serial(account[-1:], replacement_slot(100), n)  # 200 slots of 2.5 million: the space is spent


def test_cards_belong_to_their_accounts_holder_and_renewals_replace_them_before_expiry(world, scenario):
    cards, accounts = _frame(world, "cards"), _frame(world, "accounts").set_index("account_id")
    assert (cards["customer_id"].to_numpy() == accounts.loc[cards["account_id"], "customer_id"].to_numpy()).all()
    month = cards["expiry"].str[:2].astype(int)
    year = 2000 + cards["expiry"].str[3:].astype(int)
    months_after = (year - scenario.start_date.year) * 12 + month - scenario.start_date.month
    first = cards[cards["replaces_card_number"].isna()]
    # an account's first card: issued before the start — or, for an account that opens later, on its opening day,
    # valid three years to the end of the month
    opened = pd.to_datetime(first["account_id"].map(accounts["opened_date"]))
    later = opened >= pd.Timestamp(scenario.start_date)
    assert later.sum() > 0
    bounds = scenario.cards.validity_months
    assert months_after[first.index[~later]].between(bounds.min, bounds.max).all()
    assert (first.loc[~later, "issued_date"] < pd.Timestamp(scenario.start_date)).all()
    assert (pd.to_datetime(first.loc[later, "issued_date"]) == opened[later]).all()
    assert (months_after[first.index[later]] == (opened[later].dt.year - scenario.start_date.year) * 12
            + opened[later].dt.month - scenario.start_date.month + 36).all()
    renewals = cards[cards["replaces_card_number"].notna()]
    assert len(renewals) > 0.05 * len(first)  # a year's horizon renews cards expiring within it
    old = cards.set_index("card_number").loc[renewals["replaces_card_number"]]
    assert (old["account_id"].to_numpy() == renewals["account_id"].to_numpy()).all()
    old_end = pd.to_datetime("20" + old["expiry"].str[3:] + "-" + old["expiry"].str[:2] + "-01") + pd.offsets.MonthEnd(0)
    lead = (old_end.to_numpy() - renewals["issued_date"].to_numpy()) / np.timedelta64(1, "D")
    window = scenario.cards.renewal_days_before_expiry
    assert (lead >= window.min - 1).all() and (lead <= window.max + 1).all()
    assert (renewals["issued_date"] <= pd.Timestamp(scenario.horizon_end)).all()


def test_luhn_check_digit_matches_known_numbers():
    known_valid = ["4111111111111111", "5500005555555559", "4012888888881881", "5105105105105100"]
    payload = np.array([int(n[:-1]) for n in known_valid])
    assert luhn_check_digit(payload, 15).tolist() == [int(n[-1]) for n in known_valid]
    assert luhn_valid(pa.array(known_valid + ["4111111111111112"])).tolist() == [True] * 4 + [False]


def test_accounts_save_payees_before_the_start_and_more_over_the_horizon(world, scenario):
    links = _frame(world, "account_beneficiaries")
    start = pd.Timestamp(scenario.start_date)
    mules = ato_payee_saves(scenario, world["accounts"], world["beneficiaries"]).to_pandas()
    planted = links.set_index(["account_id", "beneficiary_id"]).index.isin(
        mules.set_index(["account_id", "beneficiary_id"]).index)
    # takeovers save their mule (stealthy ones days before, some before the start; plain ones in the session)
    assert planted.sum() == len(mules.drop_duplicates(["account_id", "beneficiary_id"])) > 0
    # remitters save their family abroad on their salary account when it opens (`accounts.families_abroad`)
    accounts, beneficiaries = world["accounts"], world["beneficiaries"]
    family = []
    for block, (first, end) in enumerate(Layout.of(scenario).account_spans()):
        mine = accounts.slice(first, end - first)
        account, payee, added = families_abroad(scenario, block, mine, beneficiaries)
        family.append(pd.DataFrame({"account_id": mine["account_id"].to_numpy(zero_copy_only=False)[account],
                                    "beneficiary_id": beneficiaries["beneficiary_id"].to_numpy(
                                        zero_copy_only=False)[payee], "added_date": added}))
    family = pd.concat(family)
    assert len(family) > 300 and (family["added_date"] < start).all()
    home = links.set_index(["account_id", "beneficiary_id"]).index.isin(
        family.set_index(["account_id", "beneficiary_id"]).index)
    assert home.sum() == len(family)
    links = links[~planted & ~home]
    before = links[links["added_date"] < start]
    per_account = before.groupby("account_id").size()
    bounds = scenario.beneficiaries.per_account
    assert per_account.between(bounds.min, bounds.max).all()
    assert per_account.mean() == pytest.approx((bounds.min + bounds.max) / 2, abs=0.05)
    assert not links.duplicated(["account_id", "beneficiary_id"]).any()
    opened = _frame(world, "accounts").set_index("account_id")["opened_date"]
    assert (links["added_date"].to_numpy() >= opened.loc[links["account_id"]].to_numpy()).all()
    later = links[links["added_date"] >= start]
    months = ((pd.Timestamp(scenario.horizon_end) - start).days + 1) / (365.25 / 12)
    expected = scenario.beneficiaries.new_per_month * months * scenario.population.accounts
    assert len(later) == pytest.approx(expected, rel=0.1)
    high_risk = _frame(world, "beneficiaries").set_index("beneficiary_id")["is_high_risk"]
    assert 0 < high_risk.loc[later["beneficiary_id"]].mean() < 0.2


def test_high_risk_beneficiaries_are_crypto_offshore_or_high_risk_countries(world, scenario):
    beneficiaries = _frame(world, "beneficiaries")
    expected = beneficiaries["beneficiary_type"].isin(["crypto", "offshore"]) | (beneficiaries["country_risk"] == "high")
    assert (beneficiaries["is_high_risk"] == expected).all()
    _assert_shares(beneficiaries["beneficiary_type"], scenario.beneficiaries.type)
    assert beneficiaries.loc[beneficiaries["beneficiary_type"] == "crypto", "beneficiary_name"].str.endswith(" wallet").all()


def test_merchants_follow_seed_003_category_shares_at_home_online_and_abroad(world, scenario):
    merchants = _frame(world, "merchants")
    home = merchants["country"] == "ZA"
    pos = merchants[(merchants["terminal_type"] == "pos") & home]
    atms = merchants[(merchants["terminal_type"] == "atm") & home]
    assert len(pos) == scenario.population.merchants and len(atms) == scenario.population.atms
    _assert_shares(pos["category"], {k: c.share for k, c in scenario.merchants.categories.items()})
    mcc_of = {k: c.mcc for k, c in scenario.merchants.categories.items()}
    shops = merchants[merchants["terminal_type"] != "atm"]
    assert (shops["mcc"] == shops["category"].map(mcc_of)).all()
    every_atm = merchants[merchants["terminal_type"] == "atm"]
    assert (every_atm["category"] == "Cash Withdrawal").all() and (every_atm["mcc"] == scenario.merchants.atm_mcc).all()
    assert (every_atm["merchant_name"] == "ATM " + every_atm["city"]).all()
    web = merchants[(merchants["terminal_type"] == "ecommerce") & home]
    assert len(web) == scenario.population.online_merchants
    assert set(web["city"]) <= set(scenario.geography.ecommerce_cities)
    abroad = merchants[~home]
    assert len(abroad) == scenario.population.foreign_merchants + scenario.population.foreign_atms
    assert abroad["province"].isna().all() and (abroad["currency"] != "ZAR").sum() > 0.8 * len(abroad)
    destinations = {d.city.name: d for d in scenario.geography.destinations}
    assert set(abroad["city"]) == set(destinations)  # every destination has its shops and ATMs
    assert (abroad["currency"] == abroad["city"].map({k: d.currency for k, d in destinations.items()})).all()


def test_every_category_has_a_shop_even_in_a_tiny_world(small_scenario):
    tiny = scaled(small_scenario, population={"merchants": 9, "online_merchants": 9})
    assert set(generate.merchants(tiny)["category"].to_pylist()) == {*tiny.merchants.categories, "Cash Withdrawal"}


def test_every_key_is_unique_and_every_foreign_key_resolves(world):
    for spec in schemas.ENTITY_TABLES:
        name = spec.name
        assert all(f.passed for f in key_findings(world[name], spec.primary_key)), name
        for fk in spec.foreign_keys:
            assert foreign_key_finding(world[name][fk.column].drop_null(), world[fk.table][fk.ref_column],
                                       "fk").passed, (name, fk)


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
    customers = generate.customers(retuned)
    assert customers.equals(generate.customers(small_scenario))
    assert generate.devices(retuned, customers).equals(generate.devices(small_scenario, customers))


def test_spec_build_rejects_columns_that_do_not_match():
    with pytest.raises(ValueError, match=r"missing \['device_type'.*unexpected \['colour'\]"):
        schemas.DEVICES.build({"device_id": ["D1"], "os_type": ["ios"], "device_age_days": [1], "rooted_flag": [False],
                               "vpn_flag": [False], "emulator_flag": [False], "first_seen_date": [None],
                               "colour": ["red"]})


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

    emails = world["customers"]["email"].to_pylist()
    emails[:2] = ["thabo.nkosi@gmail.com", "lerato.dube@example.co.za"]  # deliverable: not reserved names
    deliverable = world["customers"].set_column(3, "email", pa.array(emails))
    found = value_findings(deliverable, entity_expectations(scenario)["customers"])
    assert [f.failures for f in found if f.rule.startswith("email")] == [2]


def test_customer_attributes_agree_with_each_other(world, scenario):
    """Found by the analyst review: retired 20-year-olds, customers who joined at 8, PEPs rated low risk."""
    customers = _frame(world, "customers")
    retired, students = customers[customers["occupation"] == "retired"], customers[customers["occupation"] == "student"]
    assert len(retired) > 0 and retired["age"].min() >= 55 and len(students) > 0 and students["age"].max() <= 35
    assert (customers.loc[customers["age"] >= 75, "occupation"] == "retired").mean() > 0.5
    joined = pd.to_datetime(customers["customer_since"]) - pd.to_datetime(customers["birthdate"])
    assert (joined >= pd.Timedelta(days=18 * 365 - scenario.customers.tenure_days.min)).all()  # customers for a month
    # the scenario's shares hold where nothing overrides them: KYC below high risk, occupations at working age
    _assert_shares(customers.loc[customers["risk_rating"].isin(["low", "medium"]), "kyc_level"],
                   scenario.customers.kyc_level)
    working = customers[customers["age"].between(36, 54)]["occupation"].value_counts(normalize=True)
    open_shares = {k: v for k, v in scenario.customers.occupation.items() if k not in ("student", "retired")}
    for name, share in open_shares.items():
        assert working[name] == pytest.approx(share / sum(open_shares.values()), abs=0.02), name
    assert customers.loc[customers["pep_flag"], "risk_rating"].isin(["high", "very_high"]).all()
    assert (customers.loc[customers["risk_rating"].isin(["high", "very_high"]), "kyc_level"] == "high").all()
    block = np.arange(len(customers)) // scenario.population.block_customers
    assert all(pd.to_datetime(mine).is_monotonic_increasing  # numbered in the order they joined, within a block
               for _, mine in customers["customer_since"].groupby(block))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), max_size=60))
def test_the_first_row_of_each_pair_is_what_pandas_drop_duplicates_keeps(pairs):
    """`accounts._first_of_each` keeps the rows pandas' drop_duplicates kept before it (an account saves a payee once,
    its earliest addition standing)."""
    a = np.array([p[0] for p in pairs], np.int64)
    b = np.array([p[1] for p in pairs], np.int64)
    expected = pd.DataFrame({"a": a, "b": b}).drop_duplicates(["a", "b"]).index.to_numpy()
    assert _first_of_each(a, b).tolist() == expected.tolist()


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6), st.lists(st.integers(-1, 5), min_size=6 * 5, max_size=6 * 5))
def test_a_merchant_repeated_in_its_row_is_listed_once_where_it_first_appears(width, values):
    """`habits._first_in_row` against a loop over each row: a repeat of an earlier merchant in the row becomes -1."""
    rows = np.array(values[: 5 * width], np.int64).reshape(5, width)
    expected = [[m if m not in row[:slot] else -1 for slot, m in enumerate(row)] for row in rows.tolist()]
    assert _first_in_row(rows).tolist() == expected
    assert _first_in_row(rows.reshape(5, 1, width)).reshape(5, width).tolist() == expected  # (…, k): per last axis


def test_customers_worked_out_a_few_at_a_time_get_what_all_at_once_get(scenario, monkeypatch):
    """avg_spend (a customer's category mix times its prices) and the nearest city of a home are each a row's own:
    pieces of 7 rows give the customers table the bytes one piece gives."""
    from fraud_pipeline.world import geography, spending

    small = scaled(scenario, population=dict(customers=500))
    monkeypatch.setattr(spending, "ROWS_AT_ONCE", 10**6)
    monkeypatch.setattr(geography, "POINTS_AT_ONCE", 10**6)
    whole = generate.customers(small)
    monkeypatch.setattr(spending, "ROWS_AT_ONCE", 7)
    monkeypatch.setattr(geography, "POINTS_AT_ONCE", 7)
    assert generate.customers(small).equals(whole)
    assert pc.count_distinct(whole["home_city"]).as_py() > 5 and pc.min(whole["avg_spend"]).as_py() > 0


@settings(max_examples=50, deadline=None)
@given(st.floats(0.05, 20.0), st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=1, max_size=40),
       st.integers(0, 10**6))
def test_prices_at_one_scale_are_the_prices_of_that_scale_row_by_row(scale, quantiles, pick):
    """`price_at` with one scale works the truncation out per category: the same floats, to the bit, as with the
    scale given per row (the per-row path)."""
    from fraud_pipeline.world.spending import price_at

    scenario = _default_scenario()
    categories = len(scenario.merchants.categories)
    category = np.random.default_rng(pick).integers(0, categories, len(quantiles))
    quantile = np.array(quantiles)
    one = price_at(scenario, category, scale, quantile)
    assert one.tobytes() == price_at(scenario, category, np.full(len(category), scale), quantile).tobytes()
    assert np.all(np.isfinite(one)) and np.all(one > 0)


@functools.lru_cache(maxsize=1)
def _default_scenario():
    from fraud_pipeline.scenario import load_scenario

    return load_scenario()


def test_a_block_generated_alone_has_the_rows_it_has_in_the_bank(world, scenario):
    """Stage 4b: a block's entities come from its own streams and the shared tables (merchants, beneficiaries)
    alone, so a worker that generates one block gets exactly that block's rows of the bank's tables; the bank's
    ids, numbers and addresses stay unique because each is a keyed function of the block and row."""
    from fraud_pipeline.world.accounts import accounts_of_block, cards_of_block
    from fraud_pipeline.world.devices import block_own_devices, device_history_of_block, devices_of_block

    layout = Layout.of(scenario)
    assert layout.n_blocks > 2
    block = layout.n_blocks - 2  # not the first: nothing may lean on block 0's numbering
    first, end = layout.customer_span(block)
    customers = generate.customers_of_block(scenario, block)
    assert customers.equals(world["customers"].slice(first, end - first))
    devices = devices_of_block(scenario, block)
    device_offset = sum(block_own_devices(scenario, b) for b in range(block))
    assert devices.equals(world["devices"].slice(device_offset, devices.num_rows))
    accounts = accounts_of_block(scenario, block, customers, devices)
    account_first, account_end = layout.account_span(block)
    assert accounts.equals(world["accounts"].slice(account_first, account_end - account_first))
    cards = cards_of_block(scenario, block, accounts)
    mine = pc.is_in(world["cards"]["account_id"], accounts["account_id"])
    assert cards.equals(world["cards"].filter(mine))
    history = device_history_of_block(scenario, block, customers, devices)
    assert history.equals(world["device_history"].filter(pc.is_in(world["device_history"]["customer_id"],
                                                                   customers["customer_id"])))
    usual = customer_merchants_of_block(scenario, block, customers, world["merchants"])
    assert usual.equals(world["customer_merchants"].filter(pc.is_in(world["customer_merchants"]["customer_id"],
                                                                    customers["customer_id"])))
    for table, column in (("customers", "customer_id"), ("customers", "email"), ("accounts", "account_id"),
                          ("cards", "card_number"), ("devices", "device_id")):
        assert pc.count_distinct(world[table][column]).as_py() == world[table].num_rows, (table, column)
