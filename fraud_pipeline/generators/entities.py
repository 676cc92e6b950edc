"""The entity tables of one simulated bank: customers, devices, accounts, cards, beneficiaries, merchants.

Each function draws from its own random streams (seed, table, purpose), so tables are
reproducible one by one, and builds its columns with numpy and Arrow compute.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline import schemas
from fraud_pipeline.generators import columns as col
from fraud_pipeline.generators.geography import place
from fraud_pipeline.generators.pools import CRYPTO_VENUES, company_names, name_pool
from fraud_pipeline.generators.streams import choose, distinct_per_row, stream
from fraud_pipeline.scenario import CARD_NETWORK_PREFIXES, HIGH_RISK_BENEFICIARY_TYPES, Scenario

DENORMALISED_CUSTOMER_COLUMNS = ("kyc_level", "risk_rating", "pep_flag", "occupation", "industry",
                                 "income_bracket", "country_risk")
DEVICE_TYPE_BY_OS = {"android": "mobile", "ios": "mobile", "windows": "desktop"}
BANK_BINS_PER_NETWORK = 3


def _categorical(rng: np.random.Generator, shares: dict[str, float], n: int) -> pa.Array:
    names, index = choose(rng, shares, n)
    return pa.array(names).take(pa.array(index))


def _uniform_int(rng: np.random.Generator, bounds, n: int) -> np.ndarray:
    return rng.integers(bounds.min, bounds.max + 1, size=n)


def customers(scenario: Scenario) -> pa.Table:
    config, n, seed = scenario.customers, scenario.population.customers, scenario.seed
    rng = lambda purpose: stream(seed, "customers", purpose)  # noqa: E731

    # Customers are numbered in the order they joined, as a bank's customer numbers are.
    since = col.days_before(scenario.start_date, _uniform_int(rng("tenure"), config.tenure_days, n))
    since = np.sort(since)

    sex = _categorical(rng("sex"), config.sex, n)
    first, last = _names(rng("names"), scenario, sex)

    # Birthdates uniform over exactly the dates that give an age within the configured range.
    earliest = col.years_before(scenario.start_date, config.age.max + 1) + np.timedelta64(1, "D")
    latest = col.years_before(scenario.start_date, config.age.min)
    birth = earliest + rng("birthdate").integers(0, (latest - earliest).astype(int) + 1, size=n).astype("timedelta64[D]")
    age = col.whole_years_between(birth, scenario.start_date)

    home = place(rng("home"), scenario.geography, n)
    tiers, tier_index = choose(rng("spend_tier"), {k: t.share for k, t in config.spend_tiers.items()}, n)
    low = np.array([config.spend_tiers[t].min for t in tiers])[tier_index]
    high = np.array([config.spend_tiers[t].max for t in tiers])[tier_index]

    return schemas.CUSTOMERS.build({
        "customer_id": col.ids("C", np.arange(n), col.id_width(n)),
        "name": pc.binary_join_element_wise(first, last, " "),
        "sex": sex,
        "email": _emails(rng("email"), scenario, first, last),
        "birthdate": birth,
        "age": age.astype(np.int32),
        "home_province": home.province,
        "home_city": home.city,
        "home_lat": home.lat,
        "home_lon": home.lon,
        "spend_tier": pa.array(tiers).take(pa.array(tier_index)),
        "avg_spend": np.round(rng("avg_spend").uniform(low, high), 2),
        "kyc_level": _categorical(rng("kyc_level"), config.kyc_level, n),
        "risk_rating": _categorical(rng("risk_rating"), config.risk_rating, n),
        "pep_flag": rng("pep").random(n) < config.pep_rate,
        "occupation": _categorical(rng("occupation"), config.occupation, n),
        "industry": _categorical(rng("industry"), config.industry, n),
        "income_bracket": _categorical(rng("income_bracket"), config.income_bracket, n),
        "country_risk": _categorical(rng("country_risk"), config.country_risk, n),
        "customer_since": since,
    })


def _names(rng: np.random.Generator, scenario: Scenario, sex: pa.Array) -> tuple[pa.Array, pa.Array]:
    """First and last names: a locale of the region per person, then a name from that locale's pool."""
    pool = name_pool(scenario.geography)
    n = len(sex)
    locale = rng.integers(0, len(scenario.geography.name_locales), size=n)
    u_first, u_last = rng.random(n), rng.random(n)
    is_female = pc.equal(sex, "F").to_numpy(zero_copy_only=False)
    first_index = np.where(
        is_female,
        pool.first_offsets["F"][locale] + (u_first * pool.first_sizes["F"][locale]).astype(np.int64),
        pool.first_offsets["M"][locale] + (u_first * pool.first_sizes["M"][locale]).astype(np.int64),
    )
    # Female and male pools are separate arrays: take from each, then pick per row.
    female = pool.first_names["F"].take(pa.array(np.where(is_female, first_index, 0)))
    male = pool.first_names["M"].take(pa.array(np.where(is_female, 0, first_index)))
    first = pc.if_else(pa.array(is_female), female, male)
    last = pool.last_names.take(pa.array(pool.last_offsets[locale] + (u_last * pool.last_sizes[locale]).astype(np.int64)))
    return first, last


def _emails(rng: np.random.Generator, scenario: Scenario, first: pa.Array, last: pa.Array) -> pa.Array:
    """first.last@domain, made unique by a counter on repeated names (thabo.nkosi2@…)."""
    local = pc.replace_substring_regex(pc.utf8_lower(pc.binary_join_element_wise(first, last, ".")), r"[^a-z.]", "")
    repeat = pd.Series(local.to_numpy(zero_copy_only=False)).groupby(local.to_numpy(zero_copy_only=False)).cumcount()
    suffix = pc.if_else(pa.array(repeat.to_numpy() > 0), pc.cast(pa.array(repeat.to_numpy() + 1), pa.string()), "")
    domains = pa.array(scenario.geography.email_domains)
    domain = domains.take(pa.array(rng.integers(0, len(domains), size=len(first))))
    return pc.binary_join_element_wise(local, suffix, "@", domain, "")


def devices(scenario: Scenario) -> pa.Table:
    config, n, seed = scenario.devices, scenario.population.devices, scenario.seed
    rng = lambda purpose: stream(seed, "devices", purpose)  # noqa: E731
    os_type = _categorical(rng("os"), config.os, n)
    device_type = pc.coalesce(
        pa.array([DEVICE_TYPE_BY_OS.get(o) for o in config.os]).take(pc.index_in(os_type, pa.array(list(config.os)))),
        "unknown")
    return schemas.DEVICES.build({
        "device_id": col.ids("D", np.arange(n), col.id_width(n)),
        "device_type": device_type,
        "os_type": os_type,
        "device_age_days": _uniform_int(rng("age"), config.age_days, n).astype(np.int32),
        "rooted_flag": rng("rooted").random(n) < config.rooted_rate,
        "vpn_flag": rng("vpn").random(n) < config.vpn_rate,
        "emulator_flag": rng("emulator").random(n) < config.emulator_rate,
    })


def accounts(scenario: Scenario, customers: pa.Table, devices: pa.Table) -> pa.Table:
    """Every customer's first account opens the day they join; further accounts open later.

    Accounts are numbered in opening order. A customer's accounts share one trusted device;
    customers get distinct devices while there are enough, then share (households).
    """
    config, n, seed = scenario.accounts, scenario.population.accounts, scenario.seed
    rng = lambda purpose: stream(seed, "accounts", purpose)  # noqa: E731
    n_customers = customers.num_rows
    owner = np.concatenate([np.arange(n_customers), rng("owner").integers(0, n_customers, n - n_customers)])

    since = customers["customer_since"].to_numpy()[owner].astype("datetime64[D]")
    tenure = (np.datetime64(scenario.start_date, "D") - since).astype(int)
    later = (rng("opened").random(n) * tenure).astype(int)
    opened = since + np.where(np.arange(n) < n_customers, 0, later).astype("timedelta64[D]")
    order = np.lexsort((rng("order").random(n), opened))
    owner, opened = owner[order], opened[order]

    n_devices = devices.num_rows
    device_of_customer = np.concatenate([
        rng("device").permutation(n_devices)[: min(n_customers, n_devices)],
        rng("shared_device").integers(0, n_devices, max(0, n_customers - n_devices)),
    ])
    owner_index = pa.array(owner)
    denormalised = {c: customers[c].take(owner_index) for c in DENORMALISED_CUSTOMER_COLUMNS}
    return schemas.ACCOUNTS.build({
        "account_id": col.ids("A", np.arange(n), col.id_width(n)),
        "customer_id": customers["customer_id"].take(owner_index),
        "account_type": _categorical(rng("type"), config.account_type, n),
        "status": _categorical(rng("status"), config.status, n),
        "avg_balance": np.round(rng("balance").lognormal(config.balance_log_mean, config.balance_log_sigma, n), 2),
        "currency": pa.repeat(scenario.geography.currency, n),
        "opened_date": opened,
        "trusted_device_id": devices["device_id"].take(pa.array(device_of_customer[owner])),
        **denormalised,
    })


def cards(scenario: Scenario, accounts: pa.Table) -> pa.Table:
    """One card per account: network prefix + bank BIN + a serial unique across the bank + Luhn digit."""
    config, n, seed = scenario.cards, accounts.num_rows, scenario.seed
    rng = lambda purpose: stream(seed, "cards", purpose)  # noqa: E731
    networks, network_index = choose(rng("network"), config.network, n)
    bins = _bank_bins(rng("bins"), networks)  # (networks, BINS_PER_NETWORK) six-digit issuer numbers
    bin_of_card = bins[network_index, rng("bin").integers(0, BANK_BINS_PER_NETWORK, n)]
    serial = rng("serial").choice(10**9, size=n, replace=False)
    payload = bin_of_card * 10**9 + serial
    number = payload * 10 + col.luhn_check_digit(payload, 15)
    return schemas.CARDS.build({
        "card_number": pc.cast(pa.array(number), pa.string()),
        "account_id": accounts["account_id"],
        "customer_id": accounts["customer_id"],
        "network": pa.array(networks).take(pa.array(network_index)),
        "card_type": _categorical(rng("type"), config.card_type, n),
        "expiry": col.month_year(scenario.start_date, _uniform_int(rng("expiry"), config.validity_months, n)),
    })


def _bank_bins(rng: np.random.Generator, networks: list[str]) -> np.ndarray:
    rows = []
    for network in networks:
        prefixes = CARD_NETWORK_PREFIXES[network]
        chosen = [prefixes[i] for i in rng.integers(0, len(prefixes), BANK_BINS_PER_NETWORK)]
        rows.append([int(p) * 10 ** (6 - len(p)) + int(rng.integers(0, 10 ** (6 - len(p)))) for p in chosen])
    return np.array(rows, dtype=np.int64)


def beneficiaries(scenario: Scenario) -> pa.Table:
    config, n, seed = scenario.beneficiaries, scenario.population.beneficiaries, scenario.seed
    rng = lambda purpose: stream(seed, "beneficiaries", purpose)  # noqa: E731
    kind = _categorical(rng("type"), config.type, n)
    country_risk = _categorical(rng("country_risk"), config.country_risk, n)

    pool = name_pool(scenario.geography)
    first_names = pa.concat_arrays([pool.first_names["F"], pool.first_names["M"]])
    person = pc.binary_join_element_wise(
        first_names.take(pa.array(rng("first").integers(0, len(first_names), n))),
        pool.last_names.take(pa.array(rng("last").integers(0, len(pool.last_names), n))), " ")
    companies = company_names(seed)
    company = companies.take(pa.array(rng("company").integers(0, len(companies), n)))
    venue = pa.array(CRYPTO_VENUES).take(pa.array(rng("venue").integers(0, len(CRYPTO_VENUES), n)))
    name = pc.case_when(
        pc.make_struct(pc.equal(kind, "individual"), pc.equal(kind, "merchant"), pc.equal(kind, "crypto")),
        person, company, pc.binary_join_element_wise(venue, "wallet", " "),
        pc.binary_join_element_wise(company, "Holdings Ltd", " "))

    high_risk = pc.or_(pc.is_in(kind, pa.array(HIGH_RISK_BENEFICIARY_TYPES)), pc.equal(country_risk, "high"))
    return schemas.BENEFICIARIES.build({
        "beneficiary_id": col.ids("B", np.arange(n), col.id_width(n)),
        "beneficiary_name": name,
        "beneficiary_type": kind,
        "country_risk": country_risk,
        "is_high_risk": high_risk,
    })


def account_beneficiaries(scenario: Scenario, accounts: pa.Table, beneficiaries: pa.Table) -> pa.Table:
    """Each account saves per_account.min–max distinct beneficiaries, after it opened."""
    bounds, seed = scenario.beneficiaries.per_account, scenario.seed
    rng = lambda purpose: stream(seed, "account_beneficiaries", purpose)  # noqa: E731
    n_accounts = accounts.num_rows
    picks = distinct_per_row(rng("pick"), n_accounts, bounds.max, beneficiaries.num_rows)
    keep = np.arange(bounds.max)[None, :] < _uniform_int(rng("count"), bounds, n_accounts)[:, None]
    account_index, _ = np.nonzero(keep)

    opened = accounts["opened_date"].to_numpy()[account_index].astype("datetime64[D]")
    open_days = (np.datetime64(scenario.start_date, "D") - opened).astype(int)
    added = opened + (rng("added").random(account_index.size) * open_days).astype("timedelta64[D]")
    return schemas.ACCOUNT_BENEFICIARIES.build({
        "account_id": accounts["account_id"].take(pa.array(account_index)),
        "beneficiary_id": beneficiaries["beneficiary_id"].take(pa.array(picks[keep])),
        "added_date": added,
    })


def merchants(scenario: Scenario) -> pa.Table:
    """Point-of-sale merchants by category share (at least one of each), then ATMs; all placed where people live."""
    config, seed = scenario.merchants, scenario.seed
    n_pos, n_atm = scenario.population.merchants, scenario.population.atms
    n = n_pos + n_atm
    rng = lambda purpose: stream(seed, "merchants", purpose)  # noqa: E731
    site = place(rng("place"), scenario.geography, n)
    categories, index = choose(rng("category"), {k: c.share for k, c in config.categories.items()}, n_pos)
    index[: len(categories)] = np.arange(len(categories))  # every category has at least one shop
    is_atm = np.arange(n) >= n_pos
    companies = company_names(seed)
    pos_name = companies.take(pa.array(rng("name").integers(0, len(companies), n)))
    return schemas.MERCHANTS.build({
        "merchant_id": col.ids("M", np.arange(n), col.id_width(n)),
        "merchant_name": pc.if_else(pa.array(is_atm), pc.binary_join_element_wise("ATM", site.city, " "), pos_name),
        "terminal_type": pc.if_else(pa.array(is_atm), "atm", "pos"),
        "category": pa.concat_arrays([pa.array(categories).take(pa.array(index)), pa.repeat("Cash Withdrawal", n_atm)]),
        "mcc": pa.concat_arrays([pa.array([config.categories[c].mcc for c in categories]).take(pa.array(index)),
                                 pa.repeat(config.atm_mcc, n_atm)]),
        "city": site.city,
        "province": site.province,
        "country": pa.repeat(scenario.geography.country_code, n),
        "lat": site.lat,
        "lon": site.lon,
    })


def feature_catalogue(tables: dict[str, schemas.TableSpec]) -> pa.Table:
    rows = [(t.name, t.layer, c, _key(t, c.name)) for t in tables.values() for c in t.columns]
    return schemas.FEATURE_CATALOGUE.build({
        "table": [t for t, _, _, _ in rows],
        "layer": [layer for _, layer, _, _ in rows],
        "column": [c.name for _, _, c, _ in rows],
        "data_type": [str(c.type) for _, _, c, _ in rows],
        "nullable": [c.nullable for _, _, c, _ in rows],
        "key": [k for _, _, _, k in rows],
        "description": [c.description for _, _, c, _ in rows],
        "source": [c.source for _, _, c, _ in rows],
    })


def _key(table: schemas.TableSpec, column: str) -> str | None:
    refs = [f"FK → {fk.table}.{fk.ref_column}" for fk in table.foreign_keys if fk.column == column]
    return "; ".join((["PK"] if column in table.primary_key else []) + refs) or None
