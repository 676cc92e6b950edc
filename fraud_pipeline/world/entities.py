"""The entity tables of one simulated bank: customers, beneficiaries, merchants here; devices, accounts, cards and
payees in their own modules; `BUILDERS` lists them all in dependency order.

Each function draws from its own random streams (seed, table, purpose), so tables are
reproducible one by one, and builds its columns with numpy and Arrow compute.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core import columns as col, keys, schemas
from fraud_pipeline.core.streams import categorical, choose, stream
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.scenario.population import HIGH_RISK_BENEFICIARY_TYPES, OFFSHORE_COUNTRIES
from fraud_pipeline.world.accounts import account_beneficiaries, accounts, cards
from fraud_pipeline.world.devices import device_history, devices
from fraud_pipeline.world.fraud_plan import ato_payee_saves
from fraud_pipeline.world.geography import place
from fraud_pipeline.world.habits import customer_merchants
from fraud_pipeline.world.layout import Layout, kept
from fraud_pipeline.world.pools import CRYPTO_VENUES, company_names, name_pool
from fraud_pipeline.world.spending import (activity_level, basket_divisor, expected_purchase, reference_income,
                                           volume_scale)

FOREIGN_ECOMMERCE_SHARE = 0.45  # of foreign merchants, web shops; the rest are shops travellers visit


def _uniform_int(rng: np.random.Generator, bounds, n: int) -> np.ndarray:
    return rng.integers(bounds.min, bounds.max + 1, size=n)


def customers(scenario: Scenario) -> pa.Table:
    """The bank's customers: each block's (`customers_of_block`), one after another."""
    return pa.concat_tables([customers_of_block(scenario, b) for b in range(Layout.of(scenario).n_blocks)])


def customers_of_block(scenario: Scenario, block: int) -> pa.Table:
    """Block `block`'s customers (`Layout.customer_span`), drawn from the block's own streams: the same rows
    whichever process generates the block, and without any other block's. Raises ValueError for a block the bank
    does not have."""
    config, seed = scenario.customers, scenario.seed
    first_customer, end = Layout.of(scenario).customer_span(block)
    n = end - first_customer
    rng = lambda purpose: stream(seed, "customers", purpose, block)  # noqa: E731

    # Within a block, customers are numbered in the order they joined, as a branch numbers its intake; nobody
    # joined as a child.
    birth = _birthdates(rng("birthdate"), scenario, n)
    adult_days = (np.datetime64(scenario.start_date, "D") - (birth.astype("datetime64[M]") + np.timedelta64(
        ADULT_AGE * 12, "M")).astype("datetime64[D]") - (birth - birth.astype("datetime64[M]"))).astype(np.int64)
    tenure = np.maximum(np.minimum(_uniform_int(rng("tenure"), config.tenure_days, n), adult_days),
                        config.tenure_days.min)  # the youngest joined a few weeks before their 18th birthday at most
    since = col.days_before(scenario.start_date, tenure)
    order = np.argsort(since, kind="stable")
    since, birth = since[order], birth[order]

    sex = categorical(rng("sex"), config.sex, n)
    first, last = _names(rng("names"), scenario, sex)
    age = col.whole_years_between(birth, scenario.start_date)

    home = place(rng("home"), scenario.geography, n)
    occupation = _occupations(rng("occupation"), config.occupation, age)
    bracket = categorical(rng("income_bracket"), config.income_bracket, n)
    raw = _monthly_income(rng("income"), scenario, occupation, bracket)
    avg_spend = expected_purchase(scenario, np.maximum(raw, 1.0) / reference_income(scenario)) / basket_divisor(
        activity_level(scenario, block))
    income = np.round(raw * volume_scale(scenario), -1)
    capped = np.array([config.income_cap.get(o, np.inf) for o in config.occupation])[
        pc.index_in(occupation, pa.array(list(config.occupation))).to_numpy()]
    income = np.minimum(income, np.floor(capped / 10) * 10)  # the cap in whole R10, as incomes are rounded
    turnover = business_turnover(rng("turnover"), scenario, occupation, income)
    # politically exposed persons are rated high risk at least, and high-risk customers get enhanced due diligence
    # (FICA's risk-based approach; FATF Recommendation 12)
    pep = rng("pep").random(n) < config.pep_rate
    drawn = categorical(rng("risk_rating"), config.risk_rating, n)
    risk = pc.if_else(pc.and_(pa.array(pep), pc.invert(pc.is_in(drawn, pa.array(["high", "very_high"])))),
                      pa.array(np.where(rng("pep_risk").random(n) < 0.7, "high", "very_high")), drawn)
    number = first_customer + np.arange(n)
    return schemas.CUSTOMERS.build({
        "customer_id": col.ids("C", number, col.id_width(scenario.population.customers)),
        "name": pc.binary_join_element_wise(first, last, " "),
        "sex": sex,
        "email": _emails(rng("email"), scenario, first, last, number, block),
        "birthdate": birth,
        "age": age.astype(np.int32),
        "home_province": home.province,
        "home_city": home.city,
        "home_lat": home.lat,
        "home_lon": home.lon,
        "spend_tier": _tiers(scenario, avg_spend),
        "avg_spend": np.round(avg_spend, 2),
        "kyc_level": pc.if_else(pc.is_in(risk, pa.array(["high", "very_high"])), "high",
                                categorical(rng("kyc_level"), config.kyc_level, n)),
        "risk_rating": risk,
        "pep_flag": pep,
        "occupation": occupation,
        "industry": categorical(rng("industry"), config.industry, n),
        "income_bracket": bracket,
        "monthly_income": income,
        "monthly_turnover": pa.array(turnover, mask=np.isnan(turnover)),
        "pay_schedule": pa.array([config.pay_schedule[o] for o in config.occupation]).take(
            pc.index_in(occupation, pa.array(list(config.occupation)))),
        "country_risk": categorical(rng("country_risk"), config.country_risk, n),
        "customer_since": since,
    })


def business_turnover(rng: np.random.Generator, scenario: Scenario, occupation: pa.Array,
                      income: np.ndarray) -> np.ndarray:
    """Per customer: their business's expected monthly turnover, scenario currency in whole R100 — the owner's
    `income` times `customers.business.turnover_multiple` (log-normal, clipped; what the business keeps is the
    owner's income) — for the occupations of `customers.business.occupations`; NaN for everyone else."""
    b = scenario.customers.business
    m = b.turnover_multiple
    multiple = np.clip(rng.lognormal(np.log(m.median), m.sigma, len(income)), m.min, m.max)
    owns = pc.is_in(occupation, pa.array(b.occupations, pa.string())).to_numpy(zero_copy_only=False)
    return np.where(owns, np.round(income * multiple, -2), np.nan)


ADULT_AGE = 18
# Who can hold an occupation (assumption): students are young, the retired are 55 or older (SA retirement ages
# 55–65), employees retire by 70. The scenario's shares apply among the occupations open to an age, so the
# population's shares differ from them a little.
OCCUPATION_AGES = {"student": (18, 35), "retired": (55, 200), "salaried": (18, 70), "government_employee": (18, 65),
                   "freelancer": (18, 75)}


def _occupations(rng: np.random.Generator, shares: dict[str, float], age: np.ndarray) -> pa.Array:
    """Occupations by the scenario's shares among those open to each customer's age (see OCCUPATION_AGES)."""
    names = list(shares)
    low = np.array([OCCUPATION_AGES.get(o, (0, 200))[0] for o in names])
    high = np.array([OCCUPATION_AGES.get(o, (0, 200))[1] for o in names])
    open_to = (age[:, None] >= low[None, :]) & (age[:, None] <= high[None, :])
    weight = np.array(list(shares.values()))[None, :] * open_to
    # most people past 65 have retired; students are mostly under 25
    for name, factor in (("retired", np.where(age >= 65, 10.0, 1.0)), ("student", np.where(age <= 24, 3.0, 1.0))):
        if name in names:
            weight[:, names.index(name)] *= factor
    weight = np.where(weight.sum(axis=1, keepdims=True) > 0, weight, np.array(list(shares.values()))[None, :])
    cumulative = np.cumsum(weight, axis=1)
    pick = (rng.random(len(age))[:, None] * cumulative[:, -1:] >= cumulative).sum(axis=1)
    return pa.array(names).take(pa.array(np.minimum(pick, len(names) - 1)))


def _birthdates(rng: np.random.Generator, scenario: Scenario, n: int) -> np.ndarray:
    """Ages by the pyramid's bands (clipped to the age bounds), uniform within a band; then a birthdate uniform
    over the days that give that age on the start date."""
    bounds = scenario.customers.age
    bands = [(max(b.min_age, bounds.min), min(b.max_age, bounds.max), b.share) for b in scenario.customers.age_pyramid]
    bands = [(low, high, share) for low, high, share in bands if low <= high and share > 0]
    shares = np.array([share for _, _, share in bands])
    which = rng.choice(len(bands), size=n, p=shares / shares.sum())
    low, high = np.array([b[0] for b in bands])[which], np.array([b[1] for b in bands])[which]
    age = low + (rng.random(n) * (high - low + 1)).astype(np.int64)
    start = np.datetime64(scenario.start_date, "D")
    latest = np.array([col.years_before(scenario.start_date, int(a)) for a in range(0, 112)])
    span = (latest[age] - (latest[age + 1] + np.timedelta64(1, "D"))).astype(int) + 1  # the days that give `age`
    birth = latest[age] - (rng.random(n) * span).astype("timedelta64[D]")
    return np.minimum(birth, start)


def _monthly_income(rng: np.random.Generator, scenario: Scenario, occupation: pa.Array, bracket: pa.Array) -> np.ndarray:
    """Net monthly income before the volume scale: log-normal by bracket, times the occupation's factor, at most its
    cap (`customers.income_cap`, which caps the scaled income: here divided by the scale)."""
    c = scenario.customers
    names = list(c.income_bracket)
    index = pc.index_in(bracket, pa.array(names)).to_numpy()
    median = np.array([c.monthly_income[b].median for b in names])[index]
    sigma = np.array([c.monthly_income[b].sigma for b in names])[index]
    which = pc.index_in(occupation, pa.array(list(c.occupation))).to_numpy()
    factor = np.array([c.income_factor.get(o, 1.0) for o in c.occupation])[which]
    cap = np.array([c.income_cap.get(o, np.inf) for o in c.occupation])[which] / volume_scale(scenario)
    return np.minimum(median * factor * np.exp(sigma * rng.standard_normal(len(index))), cap)


TIER_CALIBRATION = 100_000  # customers drawn to find the tiers' bounds: their quantiles within about 0.2 %


def _tiers(scenario: Scenario, avg_spend: np.ndarray) -> pa.Array:
    """Spend tiers by avg_spend against the bank's quantiles: the lowest `share` of customers are the first tier,
    and so on. The bounds are quantiles of `TIER_CALIBRATION` customers drawn from the customers' model by a
    stream of their own (`_tier_bounds`), the same for every block: a customer's tier follows their spending, not
    their block's, and each tier holds its share of any large enough bank within sampling noise."""
    shares = scenario.customers.spend_tiers
    return pa.array(list(shares)).take(pa.array(np.minimum(np.searchsorted(_tier_bounds(scenario), avg_spend,
                                                                           side="right"), len(shares) - 1)))


_BOUNDS: dict[str, np.ndarray] = {}


def _tier_bounds(scenario: Scenario) -> np.ndarray:
    """The avg_spend at each tier's upper share (the last tier has none), kept per scenario."""
    return kept(_BOUNDS, scenario.content_hash, lambda: _drawn_tier_bounds(scenario), 1)


def _drawn_tier_bounds(scenario: Scenario) -> np.ndarray:
    rng = lambda purpose: stream(scenario.seed, "customers", "tier_calibration", purpose)  # noqa: E731
    config, n = scenario.customers, TIER_CALIBRATION
    age = col.whole_years_between(_birthdates(rng("birthdate"), scenario, n), scenario.start_date)
    raw = _monthly_income(rng("income"), scenario, _occupations(rng("occupation"), config.occupation, age),
                          categorical(rng("income_bracket"), config.income_bracket, n))
    shape = scenario.card_transactions.activity.shape
    spend = expected_purchase(scenario, np.maximum(raw, 1.0) / reference_income(scenario)) / basket_divisor(
        rng("activity").gamma(shape, 1.0 / shape, n))
    return np.quantile(spend, np.cumsum(list(config.spend_tiers.values()))[:-1])


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


SEPARATORS = (".", "_", "-")  # between first and last name in an address: each a namespace of its own


def _emails(rng: np.random.Generator, scenario: Scenario, first: pa.Array, last: pa.Array, customer: np.ndarray,
            block: int) -> pa.Array:
    """Addresses unique across the bank without asking other blocks. A plain address (first.last@, first_last@,
    first-last@ at each of the region's domains) belongs to one block, chosen by a hash of the name and the form;
    the first customer of a name in a block takes the first of the name's forms its block owns. Every other
    customer adds a number, a keyed bijection of their customer number (thabo.nkosi4821@…), so no two share one.
    At the default 20,000 customers in four blocks 98 % have a plain address; at 200,000 (40 blocks) 36 %, as
    most names repeat (a name has at most one plain address per form). The domains are the region's reserved names (RFC 2606 / RFC 6761), so no address
    reaches anyone."""
    clean = lambda names: pc.replace_substring_regex(pc.utf8_lower(names), r"[^a-z]", "")  # noqa: E731
    given, family = clean(first), clean(last)
    name = pc.binary_join_element_wise(given, family, ".")
    text = name.to_numpy(zero_copy_only=False)
    repeat = pd.Series(text).groupby(text).cumcount().to_numpy()
    domains = pa.array(scenario.geography.email_domains)
    forms = len(SEPARATORS) * len(domains)
    name_number = _name_numbers(text)
    owner = (keys.mix(name_number[:, None] ^ keys.hashed(keys.label_key(scenario.seed, "email_form_block"),
                                                          np.arange(forms))[None, :])
             % np.uint64(Layout.of(scenario).n_blocks)).astype(np.int64)
    owned = (owner == block) & (repeat == 0)[:, None]
    plain = owned.any(axis=1)
    form = np.where(plain, owned.argmax(axis=1), forms * rng.random(len(text))).astype(np.int64)
    separator = pa.array(SEPARATORS).take(pa.array(form % len(SEPARATORS)))
    domain = domains.take(pa.array(form // len(SEPARATORS)))
    space = 10 ** max(2, len(str(scenario.population.customers - 1)))
    number = keys.permute(keys.label_key(scenario.seed, "email_number"), customer, space)
    suffix = pc.if_else(pa.array(plain), "", pc.cast(pa.array(number), pa.string()))
    return pc.binary_join_element_wise(given, separator, family, suffix, "@", domain, "")


def _name_numbers(text: np.ndarray) -> np.ndarray:
    """A 64-bit number per name (ASCII), the same in every process: its first 32 bytes folded with SplitMix64
    (longer names share a number with their first 32 letters' name, which only gives both the same blocks)."""
    words = np.array(text, dtype="S32").view(np.uint64).reshape(len(text), 4)
    folded = np.zeros(len(text), np.uint64)
    for word in words.T:
        folded = keys.mix(folded ^ word)
    return folded


def beneficiaries(scenario: Scenario) -> pa.Table:
    config, n, seed = scenario.beneficiaries, scenario.population.beneficiaries, scenario.seed
    rng = lambda purpose: stream(seed, "beneficiaries", purpose)  # noqa: E731
    kind = categorical(rng("type"), config.type, n)
    country_risk = categorical(rng("country_risk"), config.country_risk, n)

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
        "country": _beneficiary_countries(scenario, rng, kind),
        "country_risk": country_risk,
        "is_high_risk": high_risk,
    })


def _beneficiary_countries(scenario: Scenario, rng, kind: pa.Array) -> pa.Array:
    """Each beneficiary's country (ISO 3166-1 alpha-2): `abroad_share` of individuals in a neighbouring country
    (`travel.cross_border.countries`, by weight: migrant workers' families), offshore entities in an offshore
    centre, everyone else in the region's country."""
    n = len(kind)
    border = scenario.travel.cross_border.countries
    weights = np.array(list(border.values()))
    neighbour = np.array(list(border))[rng("neighbour").choice(len(weights), n, p=weights / weights.sum())]
    offshore = np.array(OFFSHORE_COUNTRIES)[rng("offshore_country").integers(0, len(OFFSHORE_COUNTRIES), n)]
    kind = np.asarray(kind.to_numpy(zero_copy_only=False))
    abroad = (kind == "individual") & (rng("abroad").random(n) < scenario.beneficiaries.abroad_share)
    return pa.array(np.where(abroad, neighbour, np.where(kind == "offshore", offshore,
                                                         scenario.geography.country_code)))


def merchants(scenario: Scenario) -> pa.Table:
    """Where card payments go, in this order: point-of-sale shops by category share (at least one of each) and
    ATMs, placed where people live; web shops registered in the region's e-commerce cities; shops, web shops and
    ATMs abroad, in the region's travel destinations, each in its country's currency."""
    config, seed, p = scenario.merchants, scenario.seed, scenario.population
    region = scenario.geography
    rng = lambda purpose: stream(seed, "merchants", purpose)  # noqa: E731
    shares = {k: c.share for k, c in config.categories.items()}
    names = list(config.categories)
    n_foreign_web = round(p.foreign_merchants * FOREIGN_ECOMMERCE_SHARE)
    n_foreign_pos = p.foreign_merchants - n_foreign_web

    home = place(rng("place"), region, p.merchants + p.atms)
    _, pos_category = choose(rng("category"), shares, p.merchants)
    pos_category[: len(names)] = np.arange(len(names))  # every category has at least one shop
    _, web_category = choose(rng("web_category"), shares, p.online_merchants)
    web_category[: len(names)] = np.arange(len(names))
    cities = {c.name: (prov.name, c) for prov in region.provinces for c in prov.cities}
    web_city = rng("web_city").integers(0, len(region.ecommerce_cities), p.online_merchants)
    web_place = [cities[region.ecommerce_cities[i]] for i in web_city]

    travel = np.array([d.weight for d in region.destinations])
    ecommerce = np.array([d.ecommerce for d in region.destinations])
    n_destinations = len(region.destinations)

    def destinations(purpose: str, n: int, weights: np.ndarray, cover: bool) -> np.ndarray:
        drawn = rng(purpose).choice(n_destinations, size=n, p=weights / weights.sum())
        if cover:
            drawn[:n_destinations] = np.arange(n_destinations)  # every destination has one
        return drawn

    foreign_pos = destinations("foreign_pos", n_foreign_pos, travel, cover=True)
    foreign_web = destinations("foreign_web", n_foreign_web, ecommerce if ecommerce.sum() > 0 else travel, cover=False)
    foreign_atm = destinations("foreign_atm", p.foreign_atms, travel, cover=True)
    _, foreign_pos_category = choose(rng("foreign_category"), shares, n_foreign_pos)
    _, foreign_web_category = choose(rng("foreign_web_category"), shares, n_foreign_web)
    abroad = np.concatenate([foreign_pos, foreign_web, foreign_atm])
    jitter = rng("foreign_jitter").uniform(-0.05, 0.05, (len(abroad), 2))
    dest = region.destinations

    n_home = p.merchants + p.atms
    atm = len(names)  # "Cash Withdrawal"
    category_index = np.concatenate([pos_category, np.full(p.atms, atm), web_category, foreign_pos_category,
                                     foreign_web_category, np.full(p.foreign_atms, atm)])
    terminal = np.repeat(["pos", "atm", "ecommerce", "pos", "ecommerce", "atm"],
                         [p.merchants, p.atms, p.online_merchants, n_foreign_pos, n_foreign_web, p.foreign_atms])
    n = len(terminal)
    category = pa.array(names + ["Cash Withdrawal"]).take(pa.array(category_index))
    mcc = pa.array([config.categories[c].mcc for c in names] + [config.atm_mcc]).take(pa.array(category_index))
    city = pa.concat_arrays([home.city, pa.array([c.name for _, c in web_place], pa.string()),
                             pa.array([dest[i].city.name for i in abroad], pa.string())])
    province = pa.concat_arrays([home.province, pa.array([prov for prov, _ in web_place], pa.string()),
                                 pa.nulls(len(abroad), pa.string())])
    country = np.concatenate([np.full(n_home + p.online_merchants, region.country_code),
                              [dest[i].country_code for i in abroad]])
    currency = np.concatenate([np.full(n_home + p.online_merchants, region.currency), [dest[i].currency for i in abroad]])
    web_jitter = rng("web_jitter").uniform(-0.02, 0.02, (p.online_merchants, 2))
    lat = np.concatenate([home.lat, [c.lat for _, c in web_place] + web_jitter[:, 0],
                          [dest[i].city.lat for i in abroad] + jitter[:, 0]])
    lon = np.concatenate([home.lon, [c.lon for _, c in web_place] + web_jitter[:, 1],
                          [dest[i].city.lon for i in abroad] + jitter[:, 1]])
    companies = company_names(seed)
    trading = companies.take(pa.array(rng("name").integers(0, len(companies), n)))
    is_atm = pa.array(terminal == "atm")
    return schemas.MERCHANTS.build({
        "merchant_id": col.ids("M", np.arange(n), col.id_width(n)),
        "merchant_name": pc.if_else(is_atm, pc.binary_join_element_wise("ATM", city, " "), trading),
        "terminal_type": terminal,
        "category": category,
        "mcc": mcc,
        "city": city,
        "province": province,
        "country": country,
        "currency": currency,
        "lat": np.round(lat, 6),
        "lon": np.round(lon, 6),
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
    refs = [f"FK → {fk}" for fk in table.foreign_keys if fk.column == column]
    return "; ".join((["PK"] if column in table.primary_key else []) + refs) or None


def _account_beneficiaries(scenario: Scenario, accounts_table: pa.Table, beneficiaries_table: pa.Table) -> pa.Table:
    """Each block's saved payees (`accounts.account_beneficiaries`), the takeovers' mules among them."""
    layout, parts = Layout.of(scenario), []
    for block in range(layout.n_blocks):
        first, end = layout.account_span(block)
        mine = accounts_table.slice(first, end - first)
        planned = ato_payee_saves(scenario, mine, beneficiaries_table, block)
        parts.append(account_beneficiaries(scenario, block, mine, beneficiaries_table, planned))
    return pa.concat_tables(parts)


# Every entity table: its generator and the entity tables it is built from, in dependency order.
BUILDERS: dict[str, tuple[Callable[..., pa.Table], tuple[str, ...]]] = {
    "customers": (customers, ()),
    "devices": (devices, ("customers",)),
    "device_history": (device_history, ("customers", "devices")),
    "accounts": (accounts, ("customers", "devices")),
    "cards": (cards, ("accounts",)),
    "beneficiaries": (beneficiaries, ()),
    "account_beneficiaries": (_account_beneficiaries, ("accounts", "beneficiaries")),
    "merchants": (merchants, ()),
    "customer_merchants": (customer_merchants, ("customers", "merchants")),
    "feature_catalogue": (lambda scenario: feature_catalogue(schemas.TABLES), ()),
}


def entity_tables(scenario: Scenario) -> dict[str, pa.Table]:
    """Every entity table of the scenario, generated in dependency order."""
    tables: dict[str, pa.Table] = {}
    for name, (build, inputs) in BUILDERS.items():
        tables[name] = build(scenario, *(tables[i] for i in inputs))
    return tables
