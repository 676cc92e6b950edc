"""The entity tables' checks: keys, foreign keys and the values the scenario allows.

The expected values come from the scenario (the ages it allows, the categories it names), so a check fails when the
data stops matching the configuration that produced it.
"""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core import schemas
from fraud_pipeline.core.columns import luhn_valid
from fraud_pipeline.core.findings import (SAMPLE, Between, Expectation, Finding, Findings, Matches, OneOf, OrNull,
                                          Satisfies, foreign_key_findings, key_findings, value_findings)
from fraud_pipeline.core.reserved import RESERVED_DOMAIN_PATTERN, TEST_CARD_BINS
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.scenario.population import CARD_NETWORK_PREFIXES, OFFSHORE_COUNTRIES, PAY_SCHEDULES
from fraud_pipeline.world.accounts import PRODUCTS


def entity_expectations(scenario: Scenario) -> dict[str, dict[str, Expectation]]:
    """The values each entity table may hold under `scenario`."""
    region, start = scenario.geography, scenario.start_date
    c, a, d, b, m = (scenario.customers, scenario.accounts, scenario.devices, scenario.beneficiaries,
                     scenario.merchants)
    provinces = tuple(p.name for p in region.provinces)
    lat = Between(min(p.bbox[0] for p in region.provinces), max(p.bbox[1] for p in region.provinces))
    lon = Between(min(p.bbox[2] for p in region.provinces), max(p.bbox[3] for p in region.provinces))
    before_start = Between(date(1900, 1, 1), start - timedelta(days=1))
    within_horizon = Between(date(1900, 1, 1), scenario.horizon_end)
    countries = (region.country_code, *(dest.country_code for dest in region.destinations))
    currencies = (region.currency, *(dest.currency for dest in region.destinations))
    if scenario.cards.bin_ranges == "test":  # the published test BINs (fraud_pipeline.core.reserved)
        first_digits = tuple(b for network in scenario.cards.network for b in TEST_CARD_BINS[network])
        bin_rule = "a published test BIN (" + ", ".join(first_digits) + ")"
    else:
        first_digits = tuple(p for network in scenario.cards.network for p in CARD_NETWORK_PREFIXES[network])
        bin_rule = "a network prefix (" + ", ".join(first_digits) + ")"
    prefixes = "|".join(first_digits)
    return {
        "customers": {
            "sex": OneOf(tuple(c.sex)),
            "email": Matches(rf"[a-z]+[._-][a-z]+[0-9]*@(?:{RESERVED_DOMAIN_PATTERN})"),  # reserved domains only
            "age": Between(c.age.min, c.age.max),
            "home_province": OneOf(provinces),
            "home_lat": lat,
            "home_lon": lon,
            "spend_tier": OneOf(tuple(c.spend_tiers)),
            "avg_spend": Between(0.01, float("inf")),
            "kyc_level": OneOf(tuple(c.kyc_level)),
            "risk_rating": OneOf(tuple(c.risk_rating)),
            "occupation": OneOf(tuple(c.occupation)),
            "industry": OneOf(tuple(c.industry)),
            "income_bracket": OneOf(tuple(c.income_bracket)),
            "monthly_income": Between(0.0, float("inf")),
            "monthly_turnover": OrNull(Between(0.0, float("inf"))),
            "pay_schedule": OneOf(PAY_SCHEDULES),
            "country_risk": OneOf(tuple(c.country_risk)),
            "customer_since": Between(start - timedelta(days=c.tenure_days.max), start - timedelta(days=c.tenure_days.min)),
        },
        "devices": {
            "os_type": OneOf(tuple(d.os)),
            "device_type": OneOf(("mobile", "desktop", "tablet", "unknown")),
            "first_seen_date": within_horizon,
        },
        "device_history": {"valid_from": within_horizon,
                           "trusted_from": Between(date(1900, 1, 1), scenario.horizon_end
                                                   + timedelta(days=d.new_phone_trust_days.max))},
        "accounts": {
            "account_type": OneOf(PRODUCTS),
            "status": OneOf(tuple(a.status)),
            "currency": OneOf((region.currency,)),
            "opened_date": within_horizon,  # before the start, or during the horizon (accounts.opening_later)
            "closed_date": OrNull(Between(start, start + timedelta(days=a.closing.within_days))),
            "overdraft_limit": Between(0.0, float("inf")),
            "credit_limit": Between(0.0, float("inf")),
        },
        "cards": {
            "card_number": Satisfies(f"16 digits passing the Luhn check, starting with {bin_rule}",
                                     lambda v: pc.and_(pc.match_substring_regex(v, r"^\d{16}$"),
                                                       pc.match_substring_regex(v, f"^(?:{prefixes})")).to_numpy(
                                         zero_copy_only=False) & luhn_valid(v)),
            "network": OneOf(tuple(scenario.cards.network)),
            "card_type": OneOf(tuple(scenario.cards.card_type)),
            "expiry": Matches(r"(0[1-9]|1[0-2])/\d{2}"),
            "issued_date": within_horizon,
        },
        "beneficiaries": {
            "beneficiary_type": OneOf(tuple(b.type)),
            "country": OneOf((scenario.geography.country_code, *scenario.travel.cross_border.countries,
                              *OFFSHORE_COUNTRIES)),
            "country_risk": OneOf(tuple(b.country_risk)),
        },
        "account_beneficiaries": {"added_date": within_horizon},
        "merchants": {
            "terminal_type": OneOf(("pos", "atm", "ecommerce")),
            "category": OneOf((*m.categories, "Cash Withdrawal")),
            "mcc": OneOf((*(x.mcc for x in m.categories.values()), m.atm_mcc)),
            "province": OrNull(OneOf(provinces)),
            "country": OneOf(countries),
            "currency": OneOf(currencies),
            "lat": Between(-90.0, 90.0),
            "lon": Between(-180.0, 180.0),
        },
        "customer_merchants": {"role": OneOf(("shop", "web_shop", "atm"))},
        "feature_catalogue": {"column": Matches(r"[a-z][a-z0-9_]*")},
    }

ENTITY_CHECKS = {  # name -> (description, blocking)
    "primary_key_unique": ("The primary key is complete and unique.", True),
    "foreign_keys_valid": ("Every foreign key resolves.", True),
    "values_in_range": ("Columns hold only values the scenario allows.", False),
}


def entity_findings(spec: schemas.TableSpec, table: pa.Table, referenced: dict[str, pa.Table],
                    expectations: dict[str, Expectation]) -> Findings:
    """Keys, foreign keys (against the `referenced` tables by name) and allowed values of an entity table."""
    findings = {"primary_key_unique": key_findings(table, spec.primary_key)}
    if spec.foreign_keys:
        findings["foreign_keys_valid"] = foreign_key_findings(spec, table, referenced)
    if expectations:
        findings["values_in_range"] = value_findings(table, expectations)
    if spec.name == "accounts":
        findings["values_in_range"] = findings.get("values_in_range", []) + product_findings(table)
    return findings


def product_findings(accounts: pa.Table) -> list[Finding]:
    """An account's limits and role agree with its product (`account_type`): a credit limit exactly on credit-card
    accounts, an overdraft and the holder's income only on current and business accounts."""
    product = accounts["account_type"]
    transactional = pc.is_in(product, pa.array(["current", "business"]))
    rules = (("credit_limit > 0 exactly on credit_card accounts",
              pc.not_equal(pc.greater(accounts["credit_limit"], 0), pc.equal(product, "credit_card"))),
             ("overdraft_limit > 0 only on current and business accounts",
              pc.and_(pc.greater(accounts["overdraft_limit"], 0), pc.invert(transactional))),
             ("salary_account only on current and business accounts",
              pc.and_(accounts["salary_account"], pc.invert(transactional))))
    findings = []
    for rule, breaks in rules:
        bad = accounts["account_id"].filter(pc.fill_null(breaks, True))
        findings.append(Finding(rule, len(bad), bad.slice(0, SAMPLE).to_pylist()))
    return findings
