"""Every table's columns, keys and meaning, written once.

The Arrow schema a generator must produce, the column schema the Dagster UI shows, the key
checks and the feature catalogue are all derived from these specs, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str
    source: str
    nullable: bool = False


@dataclass(frozen=True)
class ForeignKey:
    column: str
    table: str
    ref_column: str


@dataclass(frozen=True)
class TableSpec:
    name: str
    layer: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = field(default=())

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type, nullable=c.nullable) for c in self.columns])

    def build(self, columns: dict[str, Any]) -> pa.Table:
        """An Arrow table in this spec's column order and types; names must match exactly."""
        expected = [c.name for c in self.columns]
        if sorted(columns) != sorted(expected):
            missing, extra = set(expected) - set(columns), set(columns) - set(expected)
            raise ValueError(f"{self.name}: columns do not match the spec (missing {sorted(missing)}, "
                             f"unexpected {sorted(extra)})")
        return pa.Table.from_arrays([pa.array(columns[c.name], type=c.type) for c in self.columns],
                                    schema=self.arrow_schema)


def _c(name, type_, description, source="design", nullable=False):
    return Column(name, type_, description, source, nullable)


S, F8, I32, I64, B, D = pa.string(), pa.float64(), pa.int32(), pa.int64(), pa.bool_(), pa.date32()

CUSTOMERS = TableSpec(
    "customers", "entities", "One row per customer of the simulated bank: demographics, home, spend and risk profile.",
    (
        _c("customer_id", S, "PK. Customer id, C + number; numbered in the order customers joined."),
        _c("name", S, "Full name, from the region's name pools.", "003"),
        _c("sex", S, "F or M.", "003"),
        _c("email", S, "E-mail address built from the name; unique.", "003"),
        _c("birthdate", D, "Date of birth.", "003"),
        _c("age", I32, "Age in whole years on the scenario's start date; within customers.age.", "003/004"),
        _c("home_province", S, "Province of residence, drawn by population share.", "000"),
        _c("home_city", S, "Nearest listed city of the home province.", "000"),
        _c("home_lat", F8, "Home latitude: province hub ± the province's residential spread.", "000"),
        _c("home_lon", F8, "Home longitude: province hub ± the province's residential spread.", "000"),
        _c("spend_tier", S, "Spend tier: low | medium | high (60/30/10 by default).", "000"),
        _c("avg_spend", F8, "Average purchase amount in the scenario currency, uniform within the tier's range.", "000"),
        _c("kyc_level", S, "KYC depth: low=basic ID | medium=standard | high=full EDD.", "004"),
        _c("risk_rating", S, "CDD risk tier: low | medium | high | very_high.", "004"),
        _c("pep_flag", B, "Politically exposed person; triggers enhanced due diligence.", "004"),
        _c("occupation", S, "Declared occupation.", "004"),
        _c("industry", S, "Business sector of the occupation.", "004"),
        _c("income_bracket", S, "Declared income range: low | medium | high.", "004"),
        _c("country_risk", S, "Home jurisdiction risk: low | medium | high (FATF-aligned).", "004"),
        _c("customer_since", D, "Date the relationship began; tenure within customers.tenure_days before start.", "004"),
    ),
    primary_key=("customer_id",),
)

DEVICES = TableSpec(
    "devices", "entities", "Device fingerprints seen by the bank, with their tampering and masking flags.",
    (
        _c("device_id", S, "PK. Device fingerprint id, D + number.", "004"),
        _c("device_type", S, "mobile (android, ios), desktop (windows) or unknown.", "design"),
        _c("os_type", S, "Operating system: android | ios | windows | unknown.", "004"),
        _c("device_age_days", I32, "Age of the device on the start date, in days.", "004"),
        _c("rooted_flag", B, "Rooted (Android) or jailbroken (iOS): a tampering indicator.", "004"),
        _c("vpn_flag", B, "VPN or proxy detected: a geo-masking indicator.", "004"),
        _c("emulator_flag", B, "Emulated environment, not a physical device: a strong fraud signal.", "004"),
    ),
    primary_key=("device_id",),
)

ACCOUNTS = TableSpec(
    "accounts", "entities",
    "Bank accounts; every customer holds at least one. Customer risk attributes are denormalised (seed 004).",
    (
        _c("account_id", S, "PK. Account id, A + number; numbered in the order accounts were opened.", "004"),
        _c("customer_id", S, "FK → customers. The account holder.", "004"),
        _c("account_type", S, "retail | corporate | savings | current | business.", "004"),
        _c("status", S, "active | dormant | frozen.", "design"),
        _c("avg_balance", F8, "Average balance in the scenario currency (lognormal).", "004"),
        _c("currency", S, "ISO 4217 currency of the account (the region's).", "design"),
        _c("opened_date", D, "Opening date: the customer's first account opens the day they join; others later.", "004"),
        _c("trusted_device_id", S, "FK → devices. The holder's home (trusted) device.", "000/004"),
        _c("kyc_level", S, "Denormalised from customers.", "004"),
        _c("risk_rating", S, "Denormalised from customers.", "004"),
        _c("pep_flag", B, "Denormalised from customers.", "004"),
        _c("occupation", S, "Denormalised from customers.", "004"),
        _c("industry", S, "Denormalised from customers.", "004"),
        _c("income_bracket", S, "Denormalised from customers.", "004"),
        _c("country_risk", S, "Denormalised from customers.", "004"),
    ),
    primary_key=("account_id",),
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),
                  ForeignKey("trusted_device_id", "devices", "device_id")),
)

CARDS = TableSpec(
    "cards", "entities", "Payment cards, one per account, with unique Luhn-valid 16-digit numbers.",
    (
        _c("card_number", S, "PK. 16-digit card number: network prefix, bank BIN, unique serial, Luhn check digit.",
           "002/003"),
        _c("account_id", S, "FK → accounts. The account the card draws on.", "design"),
        _c("customer_id", S, "FK → customers. The cardholder (the account's holder).", "design"),
        _c("network", S, "Card network: visa | mastercard.", "003"),
        _c("card_type", S, "debit | credit.", "design"),
        _c("expiry", S, "Expiry month MM/YY, after the start date.", "003"),
    ),
    primary_key=("card_number",),
    foreign_keys=(ForeignKey("account_id", "accounts", "account_id"),
                  ForeignKey("customer_id", "customers", "customer_id")),
)

BENEFICIARIES = TableSpec(
    "beneficiaries", "entities", "External payment destinations; crypto, offshore or high-risk-country ones are high risk.",
    (
        _c("beneficiary_id", S, "PK. Beneficiary id, B + number.", "004"),
        _c("beneficiary_name", S, "A person, a company, a crypto venue wallet or an offshore entity.", "design"),
        _c("beneficiary_type", S, "individual | merchant | crypto | offshore.", "004"),
        _c("country_risk", S, "Beneficiary jurisdiction risk: low | medium | high.", "004"),
        _c("is_high_risk", B, "Crypto or offshore type, or high country risk: seed 004's exit-node pool.", "004"),
    ),
    primary_key=("beneficiary_id",),
)

ACCOUNT_BENEFICIARIES = TableSpec(
    "account_beneficiaries", "entities", "The known (saved) beneficiaries of each account, for legitimate transfers.",
    (
        _c("account_id", S, "FK → accounts.", "004"),
        _c("beneficiary_id", S, "FK → beneficiaries.", "004"),
        _c("added_date", D, "Date the beneficiary was saved: on or after the account opened, before start.", "design"),
    ),
    primary_key=("account_id", "beneficiary_id"),
    foreign_keys=(ForeignKey("account_id", "accounts", "account_id"),
                  ForeignKey("beneficiary_id", "beneficiaries", "beneficiary_id")),
)

MERCHANTS = TableSpec(
    "merchants", "entities", "Where card transactions happen: point-of-sale merchants and the bank's ATMs.",
    (
        _c("merchant_id", S, "PK. Terminal id, M + number (ATMs after point-of-sale merchants).", "design"),
        _c("merchant_name", S, "Trading name (ATMs are named after their city).", "design"),
        _c("terminal_type", S, "pos | atm.", "design"),
        _c("category", S, "Merchant category (seed 003's shares); Cash Withdrawal for ATMs.", "003"),
        _c("mcc", S, "ISO 18245 merchant category code.", "001/003"),
        _c("city", S, "Nearest listed city.", "000"),
        _c("province", S, "Province, drawn by population share.", "000"),
        _c("country", S, "ISO 3166 country code of the terminal.", "000"),
        _c("lat", F8, "Latitude: province hub ± residential spread, like the customers it serves.", "000"),
        _c("lon", F8, "Longitude.", "000"),
    ),
    primary_key=("merchant_id",),
)

FEATURE_CATALOGUE = TableSpec(
    "feature_catalogue", "entities", "Every column of every table: the data dictionary, generated from the table specs.",
    (
        _c("table", S, "Table name.", "004"),
        _c("layer", S, "Storage layer of the table.", "design"),
        _c("column", S, "Column name.", "004"),
        _c("data_type", S, "Arrow data type.", "004"),
        _c("nullable", B, "Whether the column may hold nulls.", "design"),
        _c("key", S, "PK, or FK → table.column, or null.", "design", nullable=True),
        _c("description", S, "What the column means and how it is generated.", "004"),
        _c("source", S, "The seed notebook the column comes from, or design.", "design"),
    ),
    primary_key=("table", "column"),
)

TABLES: dict[str, TableSpec] = {t.name: t for t in (
    CUSTOMERS, DEVICES, ACCOUNTS, CARDS, BENEFICIARIES, ACCOUNT_BENEFICIARIES, MERCHANTS, FEATURE_CATALOGUE)}
