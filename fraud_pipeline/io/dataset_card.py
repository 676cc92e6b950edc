"""The dataset card: `DATASET.md` at the storage root, written from the table specs, the effective scenario and the
stored manifests, so it cannot drift from the data it describes. Pure: no Dagster, no storage access."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from fraud_pipeline.core import schemas
from fraud_pipeline.core.labels import AML_TYPOLOGIES
from fraud_pipeline.core.reserved import TEST_CARD_BINS
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.scenario.aml import NewAccount, Typology
from fraud_pipeline.scenario.regions import REGIONS

SCENARIOS = ("card_fraud_chain", "atm_abroad", "high_velocity", "account_takeover")
LIMITATIONS = (
    "One region (South Africa: its provinces, public holidays, pay calendar and currency); other regions are not "
    "modelled yet.",
    "Laundering is labelled with its truth (`aml_typology`, `aml_case_id`, `aml_role`, `aml_cases`); the bank's own "
    "view is `aml_reports`, its suspicious transaction reports: cases it never reports are missing there, a "
    "report names the customer's other accounts too, and some genuine accounts its monitoring alerted on are "
    "reported (`aml.observed`). Train on `aml_reports` for a bank's labels, score against the truth.",
    "The clickstream covers the bank's signed-in customers on web shops (no anonymous visitors, no search or "
    "category pages); a session is one device's visit to one shop until the timeout, cut at midnight (a visit "
    "across midnight is two sessions); no acquirer-side data (terminal risk, merchant onboarding).",
    "Fraud labels are complete ground truth: every injected row is labelled, and `label_available_at` models only "
    "the delay before the bank learns of it — no mislabelled chargebacks, no friendly fraud.",
    "Behavioural defaults are assumptions unless the README names a source; they are parameters of the scenario.",
    "Fraud is frequent by design, for training and testing detectors: about 1 % of payments and a quarter of cards "
    "blocked over a year, tens of times a real portfolio's rate; victims are not reimbursed (no chargeback credits).",
    "Money follows one budget per customer: spending shares barely vary by income (low earners save as the others "
    "do), credit cards are repaid in full when the salary account can (little revolving credit), there is no "
    "seasonality (December, Black Friday), no raises or bonuses, and debit orders keep their amounts all year.",
    "Statuses are fixed at the start: no account is frozen, becomes dormant or is reactivated during the calendar; "
    "1 % of accounts other than salary accounts close in the first 60 days, settled first. No new customer joins "
    "during the calendar: the accounts that open then (accounts.opening_later) are existing customers' savings "
    "accounts and credit cards, which take over part of what their holder paid from the salary account.",
    "`new_account_transactions` (the web funnel's new accounts) are a table of their own, outside the bank's "
    "ledger, balances and fraud.",
    "A customer's card-present day is at home or at one spot out of town, but ATM runs and shopping sessions are "
    "placed independently within it.",
    "IP addresses are a synthetic pool entirely in the documentation ranges, so none is anyone's and none has a "
    "place: mobile carriers' and VPN exits' addresses (shared by dozens of customers) in RFC 5737's three IPv4 "
    "blocks, each home, address abroad and ring address a /64 of its own in RFC 3849's 2001:db8::/32 (more IPv6 "
    "homes than South Africa has). E-mails are at reserved domains (RFC 2606 / RFC 6761); merchant and payee names "
    "are Faker's; ten merchant categories (no fuel, airtime or prepaid electricity).",
    "Individual payees come from a shared pool, so one is saved by several unrelated customers; transfers between "
    "a customer's own accounts settle overnight like any transfer between customers.",
    "No fees, interest or cash deposits; credit cards are repaid in full (or as far as the salary account "
    "allows) after payday; refunds start on the calendar's first day and do not always match a purchase in the "
    "data.",
    "A card reissued after fraud is not in `cards` (planned before the calendar): it is in `card_events` the day it "
    "is issued and in `account_balances` each day it is the account's card.",
    "The entity tables are planned over the horizon (cards, phones and payees dated after a row): filter by their "
    "dates before using them as of a row's time.",
)


def _card_numbers(scenario: Scenario) -> str:
    """What the card numbers are, and so how to treat the files (cards.bin_ranges)."""
    if scenario.cards.bin_ranges == "test":
        bins = ", ".join(b for network in scenario.cards.network for b in TEST_CARD_BINS[network])
        return (f"card numbers (cards.bin_ranges: test): Luhn-valid on the processors' published test BINs ({bins}); "
                "a DLP scanner still matches them as card numbers unless it allows those prefixes")
    return ("card numbers (cards.bin_ranges: realistic): Luhn-valid on random BINs in live Visa/Mastercard ranges; "
            "some may be issued cards' numbers: treat the files as card data")


@dataclass(frozen=True)
class StoredTable:
    """What the manifests say about one stored table: its partitions (empty: unpartitioned) and rows."""
    spec: schemas.TableSpec
    storage_layer: str
    storage_name: str
    partitions: tuple[str, ...]
    rows: int


def _md(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False, disable_numparse=True)


def card(scenario: Scenario, stored: list[StoredTable]) -> str:
    """The card as markdown. `stored`: the tables found complete in storage (a table that is not stored yet is
    listed with no rows). The text names no storage root, so a card on S3 and one on disk are the same bytes."""
    root_uri = "data"
    region = REGIONS[scenario.region]
    tables = pd.DataFrame([{
        "table": f"`{t.storage_layer}/{t.storage_name}`", "rows": f"{t.rows:,}",
        "partitions": (f"{len(t.partitions)} days, {t.partitions[0]} … {t.partitions[-1]}" if t.partitions
                       else "—"), "columns": len(t.spec.columns), "what": t.spec.description} for t in stored])
    fraud = scenario.fraud
    rates = pd.DataFrame([{
        "scenario": f"`{name}`", "enabled": getattr(fraud, name).enabled,
        "rate (of customer-initiated payments)": f"{getattr(fraud, name).rate:.2%}",
        "stealth": getattr(fraud, name).stealth,
        "label delay (days)": f"{getattr(fraud, name).label_delay_days.min}–{getattr(fraud, name).label_delay_days.max}",
    } for name in SCENARIOS])
    labels = pd.DataFrame([{"column": f"`{c.name}`", "meaning": c.description}
                           for c in (*schemas.LABELS, *schemas.ANOMALY_LABELS)])
    plan = pd.DataFrame([{"entry": name, **{k: v for k, v in entry.model_dump(mode="json").items() if v is not None}}
                         for name, entry in scenario.anomalies.plan.items()]).astype(object).fillna("")
    columns = ["## Columns"]
    for t in stored:
        columns += [f"### `{t.storage_layer}/{t.storage_name}`", t.spec.description, _md(pd.DataFrame([
            {"column": f"`{c.name}`", "type": str(c.type), "nullable": c.nullable, "description": c.description}
            for c in t.spec.columns]))]
    sections = [
        f"# Dataset card: fraud_pipeline, scenario {scenario.content_hash}",
        "Generated from the table specifications, the effective scenario and the stored manifests by the "
        "`dataset_card` asset; regenerate it rather than edit it.",
        "## Scenario",
        f"- scenario hash: `{scenario.content_hash}` (every manifest carries it)\n"
        f"- seed: {scenario.seed}; calendar from {scenario.start_date}"
        + (f" to {scenario.end_date}" if scenario.end_date else ", open-ended") + "\n"
        f"- region: {scenario.region} ({region.currency}, times in {region.timezone} wall-clock time)\n"
        f"- population: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in
                                      scenario.population.model_dump().items()) + "\n"
        f"- customer-initiated card payments a day: {scenario.card_transactions.per_day:,}; web visitors a day: "
        f"{scenario.web_funnel.visitors_per_day:,}\n"
        f"- landing format: {scenario.anomalies.landing_format}\n"
        + ("- table format: delta (the curated tables are Delta Lake tables)\n"
           if scenario.storage.table_format == "delta" else "") +
        f"- {_card_numbers(scenario)}",
        "## Tables", _md(tables),
        "Rows and partitions are those of complete tables (with a manifest in `_manifests/`) at the time of "
        "writing.",
        *columns,
        "## Labels", _md(labels),
        "Fraud scenarios of this scenario:", _md(rates),
        f"Laundering typologies of this scenario (cash threshold R{scenario.aml.cash_threshold:,.2f} since "
        f"{scenario.aml.cash_threshold_since}):", _md(_typologies(scenario)),
        "## Anomaly plan",
        f"A {scenario.anomalies.window_days}-day window after the 14 baseline days; afterwards: "
        f"{scenario.anomalies.after_window}.", _md(plan),
        "## Reading it",
        *_delta_reading(scenario, root_uri),
        "From the folder that holds `data/` (on S3: `s3://bucket/prefix` in place of `data`; polars takes an S3 "
        "folder as a prefix ending in `/`):",
        f"```python\nimport pandas as pd\nstream = pd.concat([pd.read_parquet(\"{root_uri}/events/card_transactions\"),\n"
        f"                    pd.read_parquet(\"{root_uri}/fraud/fraud_transactions\")], ignore_index=True)\n```",
        f"```python\nimport pyarrow.dataset as ds\nvisits = ds.dataset(\"{root_uri}/landing/web_visits\", "
        f"partitioning=\"hive\").to_table()\n```",
        f"```python\nimport polars as pl\nstream = pl.scan_parquet(\"{root_uri}/events/card_transactions\")\n```",
        f"```sql\nSELECT * FROM read_parquet('{root_uri}/events/card_transactions/**/*.parquet', "
        f"hive_partitioning = true);\n```",
        f"A table's folder holds only its data files, so each of these reads it whole. Its manifest (files, rows, "
        f"SHA-256, scenario hash) is kept apart: the manifest of `{root_uri}/<layer>/<table>[/date=YYYY-MM-DD]` is "
        f"`{root_uri}/_manifests/<layer>/<table>[/date=YYYY-MM-DD].json`. A folder without a manifest is unfinished.",
        "## Known limitations", "\n".join(f"- {item}" for item in LIMITATIONS),
    ]
    return "\n\n".join(sections) + "\n"


def _delta_reading(scenario: Scenario, root_uri: str) -> list[str]:
    """In Delta mode, how to read a curated table: through its log, since its folder keeps earlier versions' files
    until `vacuum` (the folder reads below then apply to the landing files)."""
    if scenario.storage.table_format != "delta":
        return []
    return ["The curated tables (entities, events, fraud, reports) are Delta tables: read them through their log, "
            "since a folder keeps earlier versions' files until `vacuum` deletes them, and a folder read of a day "
            "written twice by different releases would see both (the landing zone stays files, read as below):",
            f"```python\nfrom deltalake import DeltaTable\nimport polars as pl\n"
            f"stream = DeltaTable(\"{root_uri}/events/card_transactions\").to_pandas()\n"
            f"stream = pl.scan_delta(\"{root_uri}/events/card_transactions\")\n```"]


def _typologies(scenario: Scenario) -> pd.DataFrame:
    """Each laundering typology's switch, rate, stealth share and reporting (`aml`)."""
    return pd.DataFrame([{"typology": f"`{name}`", "enabled": t.enabled,
                          "cases per 10,000 active accounts per 30 days": _rate(t),
                          "stealth": t.stealth, "reported": t.reported_share,
                          "report after the last row (days)": f"{t.label_delay_days.min}–{t.label_delay_days.max}"}
                         for name, t in ((n, getattr(scenario.aml, n)) for n in AML_TYPOLOGIES)])


def _rate(typology: Typology | NewAccount) -> float | str:
    """A typology's rate as the scenario sets it: cases per 10,000 active accounts per 30 days, or for accounts opened
    to launder the share of the debit accounts opening during the run."""
    if isinstance(typology, NewAccount):
        return f"{typology.share_of_openings:.0%} of the debit accounts that open during the run"
    return typology.cases_per_10k_accounts_month
