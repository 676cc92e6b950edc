"""Every table's columns, keys and meaning, written once.

The Arrow schema a generator must produce, the column schema the Dagster UI shows, the key
checks and the feature catalogue are all derived from these specs, so they cannot drift apart.
"""

from __future__ import annotations

import pyarrow as pa

from fraud_pipeline.core.table_spec import (B, CARD_OR_REPLACEMENT, D, F8, I8, I32, S, TS, Column,  # noqa: F401
                                            ForeignKey, TableSpec)
from fraud_pipeline.core.table_spec import column as _c
from fraud_pipeline.core.table_spec import timing as _timing


CUSTOMERS = TableSpec(
    "customers", "entities", "One row per customer of the simulated bank: demographics, home, spend and risk profile.",
    (
        _c("customer_id", S, "PK. Customer id, C + number; numbered in the order customers joined."),
        _c("name", S, "Full name, from the region's name pools.", "003"),
        _c("sex", S, "F or M.", "003"),
        _c("email", S, "E-mail address built from the name; unique. At a reserved domain (RFC 2606 / RFC 6761: "
                    "example.com/.net/.org and .example, .test, .invalid names), so it reaches nobody.", "003"),
        _c("birthdate", D, "Date of birth.", "003"),
        _c("age", I32, "Age in whole years on the scenario's start date; within customers.age.", "003/004"),
        _c("home_province", S, "Province of residence, drawn by population share.", "000"),
        _c("home_city", S, "Nearest listed city of the home province.", "000"),
        _c("home_lat", F8, "Home latitude: province hub ± the province's residential spread.", "000"),
        _c("home_lon", F8, "Home longitude: province hub ± the province's residential spread.", "000"),
        _c("spend_tier", S, "Spend tier by avg_spend against the bank's quantiles of it: low | medium | high "
           "(60/30/10 by default).", "000"),
        _c("avg_spend", F8, "The customer's expected purchase amount (point of sale and online) on an ordinary day, "
                            "scenario currency: their category mix and basket size under the price model.", "000"),
        _c("kyc_level", S, "KYC depth: low=basic ID | medium=standard | high=full EDD.", "004"),
        _c("risk_rating", S, "CDD risk tier: low | medium | high | very_high.", "004"),
        _c("pep_flag", B, "Politically exposed person; triggers enhanced due diligence.", "004"),
        _c("occupation", S, "Declared occupation.", "004"),
        _c("industry", S, "Business sector of the occupation.", "004"),
        _c("income_bracket", S, "Declared income range: low | medium | high.", "004"),
        _c("monthly_income", F8, "Net monthly income, scenario currency: log-normal by bracket, times the occupation's "
                                 "factor and the volume scale (what makes the card volume affordable; near 1).",
           "design"),
        _c("monthly_turnover", F8, "A business owner's business's expected monthly turnover, scenario currency (whole "
                                   "R100): what its clients pay into its business account, of which the owner keeps "
                                   "monthly_income and pays the rest on as wages and to suppliers; a month's turnover "
                                   "varies around it. Null for customers without a business.", "design (issue 24)",
           nullable=True),
        _c("pay_schedule", S, "When income is paid: day_25 | day_15 | first_week | irregular (by occupation).",
           "design"),
        _c("country_risk", S, "Home jurisdiction risk: low | medium | high (FATF-aligned).", "004"),
        _c("customer_since", D, "Date the relationship began; tenure within customers.tenure_days before start.", "004"),
    ),
    primary_key=("customer_id",),
)

DEVICES = TableSpec(
    "devices", "entities", "Device fingerprints seen by the bank, with their tampering and masking flags.",
    (
        _c("device_id", S, "PK. Device fingerprint id, D + number.", "004"),
        _c("device_type", S, "mobile (a phone), tablet, desktop (a laptop or desktop computer) or unknown.", "design"),
        _c("os_type", S, "Operating system: android | ios | windows | unknown.", "004"),
        _c("device_age_days", I32, "Age of the device on the start date, in days.", "004"),
        _c("rooted_flag", B, "Rooted (Android) or jailbroken (iOS): a tampering indicator.", "004"),
        _c("vpn_flag", B, "VPN or proxy detected: a geo-masking indicator.", "004"),
        _c("emulator_flag", B, "Emulated environment, not a physical device: a strong fraud signal.", "004"),
        _c("first_seen_date", D, "When the bank first saw the device (a phone bought later: the day it was first used).",
           "design"),
    ),
    primary_key=("device_id",),
)

DEVICE_HISTORY = TableSpec(
    "device_history", "entities",
    "Each customer's phones over time as the bank binds them: a new phone is used untrusted for a few days, then "
    "becomes the trusted device. Planned over the horizon. Tablets, laptops and household phones are never bound.",
    (
        _c("customer_id", S, "FK → customers.", "design"),
        _c("device_id", S, "FK → devices.", "design"),
        _c("valid_from", D, "First day the customer uses the phone.", "design"),
        _c("valid_to", D, "First day they use their next phone; null while it is their latest.", "design",
           nullable=True),
        _c("trusted_from", D, "From this day the phone is the customer's trusted device.", "design"),
    ),
    primary_key=("customer_id", "device_id", "valid_from"),
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"), ForeignKey("device_id", "devices", "device_id")),
)

ACCOUNTS = TableSpec(
    "accounts", "entities",
    "Bank accounts; every customer holds at least one. Customer risk attributes are denormalised (seed 004).",
    (
        _c("account_id", S, "PK. Account id, A + number; numbered in the order accounts were opened.", "004"),
        _c("customer_id", S, "FK → customers. The account holder.", "004"),
        _c("account_type", S, "The product: current (cheque account: a customer's first, or the one their income "
                              "is paid into; debit card, may have an arranged overdraft) | savings (a later debit "
                              "account: no overdraft, little card use) | credit_card (a credit limit, a monthly "
                              "statement repaid from the salary account) | business (a business owner's account "
                              "their clients pay: takings in, wages and suppliers out; debit card, may have an "
                              "overdraft). Seed 004's names where they fit.", "004"),
        _c("status", S, "Status at the start — or, for an account that opens later, on opening (active): active | "
                        "dormant (silent) | frozen (payments declined); account_balances has each day's.", "design"),
        _c("avg_balance", F8, "The account's typical balance, scenario currency: a salary account's buffer plus half a "
                              "month's pay; savings held; a credit account's amount owed (negative).", "004"),
        _c("currency", S, "ISO 4217 currency of the account (the region's).", "design"),
        _c("opened_date", D, "Opening date: the customer's first account opens the day they join; others later — "
                             "accounts.opening_later of them during the calendar, with nothing before (no balance "
                             "row, no card, opening balance 0).", "004"),
        _c("closed_date", D, "The day the account closes, within the calendar; null if it stays open.", "design",
           nullable=True),
        _c("trusted_device_id", S, "FK → devices. The holder's trusted phone at the start (device_history has later "
                                   "ones).", "000/004"),
        _c("salary_account", B, "Whether the holder's income is paid into this account.", "design"),
        _c("overdraft_limit", F8, "Arranged overdraft of a current account (0: none; savings and credit-card "
                                  "accounts have none): how far below zero it may go.",
           "design"),
        _c("credit_limit", F8, "Credit limit of a credit card account (0 for debit accounts).", "design"),
        _c("opening_balance", F8, "Balance at the start of the calendar's first day (negative: owed).", "design"),
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
    "cards", "entities", "Payment cards, one per account at the start, and their planned renewals (new numbers); "
                         "cards reissued after fraud are in card_events. Unique Luhn-valid 16-digit numbers, by "
                         "default on the processors' published test BINs.",
    (
        _c("card_number", S, "PK. 16-digit card number: BIN (by default one of the processors' published test BINs — "
                             "Visa 424242, 411111, 401288, Mastercard 555555, 510510, 222300; cards.bin_ranges: "
                             "realistic draws live-range BINs), unique serial, Luhn check digit.", "002/003"),
        _c("account_id", S, "FK → accounts. The account the card draws on.", "design"),
        _c("customer_id", S, "FK → customers. The cardholder (the account's holder).", "design"),
        _c("network", S, "Card network: visa | mastercard.", "003"),
        _c("card_type", S, "debit | credit.", "design"),
        _c("expiry", S, "Expiry month MM/YY; the card works until that month ends.", "003"),
        _c("issued_date", D, "When the card was issued: before the start, or a renewal's issue day within the "
                             "horizon (weeks before the card it replaces expires).", "design"),
        _c("replaces_card_number", S, "FK → cards. The card a renewal replaces; null for cards issued before the start.",
           "design", nullable=True),
    ),
    primary_key=("card_number",),
    foreign_keys=(ForeignKey("account_id", "accounts", "account_id"),
                  ForeignKey("customer_id", "customers", "customer_id"),
                  ForeignKey("replaces_card_number", "cards", "card_number")),
)

BENEFICIARIES = TableSpec(
    "beneficiaries", "entities", "External payment destinations; crypto, offshore or high-risk-country ones are high risk.",
    (
        _c("beneficiary_id", S, "PK. Beneficiary id, B + number.", "004"),
        _c("beneficiary_name", S, "A person, a company, a crypto venue wallet or an offshore entity.", "design"),
        _c("beneficiary_type", S, "individual | merchant | crypto | offshore.", "004"),
        _c("country", S, "ISO 3166-1 alpha-2: the region's country, a neighbouring one (migrant workers' families: "
                         "beneficiaries.abroad_share of individuals) or an offshore centre (offshore entities).",
           "design"),
        _c("country_risk", S, "Beneficiary risk rating: low | medium | high (seed 004's label, drawn on its own: not "
                              "derived from `country`).", "004"),
        _c("is_high_risk", B, "Crypto or offshore type, or high country risk: seed 004's exit-node pool.", "004"),
    ),
    primary_key=("beneficiary_id",),
)

ACCOUNT_BENEFICIARIES = TableSpec(
    "account_beneficiaries", "entities", "The payees each account has saved, and when: those saved before the start and "
                                         "those it saves over the horizon.",
    (
        _c("account_id", S, "FK → accounts.", "004"),
        _c("beneficiary_id", S, "FK → beneficiaries.", "004"),
        _c("added_date", D, "Date the payee was saved: before the start, or within the horizon (payees added later in "
                            "life; a payee is never paid before it is saved).", "design"),
    ),
    primary_key=("account_id", "beneficiary_id"),
    foreign_keys=(ForeignKey("account_id", "accounts", "account_id"),
                  ForeignKey("beneficiary_id", "beneficiaries", "beneficiary_id")),
)

MERCHANTS = TableSpec(
    "merchants", "entities",
    "Where card payments go: point-of-sale shops and ATMs where people live, web shops, and shops, web shops and ATMs "
    "abroad (travel destinations), each with its country and currency.",
    (
        _c("merchant_id", S, "PK. Terminal id, M + number (shops, ATMs, web shops, then abroad).", "design"),
        _c("merchant_name", S, "Trading name (ATMs are named after their city).", "design"),
        _c("terminal_type", S, "pos | atm | ecommerce.", "design"),
        _c("category", S, "Merchant category (seed 003's shares); Cash Withdrawal for ATMs.", "003"),
        _c("mcc", S, "ISO 18245 merchant category code.", "001/003"),
        _c("city", S, "City: the nearest listed one at home; the registered city of a web shop; the city abroad.",
           "000"),
        _c("province", S, "Province, drawn by population share; null abroad.", "000", nullable=True),
        _c("country", S, "ISO 3166 country code.", "000"),
        _c("currency", S, "ISO 4217 currency the merchant charges in.", "design"),
        _c("lat", F8, "Latitude: of the terminal, or a web shop's registered place.", "000"),
        _c("lon", F8, "Longitude.", "000"),
    ),
    primary_key=("merchant_id",),
)

CUSTOMER_MERCHANTS = TableSpec(
    "customer_merchants", "entities",
    "Each customer's usual shops near home, the web shops they return to and their ATMs, as at the start: the "
    "merchants the bank's history shows they had paid before the calendar (recipient_status counts them as known).",
    (
        _c("customer_id", S, "FK → customers.", "design"),
        _c("merchant_id", S, "FK → merchants.", "design"),
        _c("role", S, "shop (one of the nearest of its category) | web_shop | atm.", "design"),
    ),
    primary_key=("customer_id", "merchant_id"),
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),
                  ForeignKey("merchant_id", "merchants", "merchant_id")),
)

LABELS = (
    _c("is_fraud", B, "Whether the row is fraudulent (injected by a fraud scenario).", "002/003"),
    _c("fraud_scenario", S, "card_fraud_chain | atm_abroad | high_velocity | account_takeover; null if genuine.",
       "design", nullable=True),
    _c("fraud_episode_id", S, "FK → fraud_episodes: the episode the row belongs to; null if genuine.", "design",
       nullable=True),
    _c("label_available_at", TS, "When the bank learns the row was fraud (e.g. a chargeback); null if genuine.",
       "design", nullable=True),
    _c("aml_typology", S, "structuring | deposit_and_send | mule | untyped | cross_border | dormant | layering | "
                          "cycle | scatter_gather | gather_scatter | high_risk | front_business | new_account: the "
                          "laundering "
                          "typology of the row's case (untyped: laundering that fits no pattern); null when the row "
                          "is no laundering.",
       "design (issue 24)", nullable=True),
    _c("aml_case_id", S, "FK → aml_cases: the laundering case the row belongs to; null when none.", "design (issue 24)",
       nullable=True),
    _c("aml_role", S, "The role in its case of the row's account (placer, mule, layer, …: aml_cases.role); null when "
                      "none.", "design (issue 24)", nullable=True),
)

CARD_TRANSACTIONS = TableSpec(
    "card_transactions", "events",
    "Genuine account activity per day, as the bank's authorisation stream sees it: card purchases at shops and "
    "online, ATM withdrawals, transfers and bill payments, and money coming in (salaries, refunds, transfers from "
    "other customers), approved or declined against what the account can spend, each with the balance after it. "
    "fraud_transactions holds the day's fraud with the same columns: their union is the labelled stream.",
    (
        _c("transaction_id", S, "PK. T + arrival date + a random 8-digit number: unique across days, no order.", "design"),
        *_timing("When the transaction happened (local time, millisecond precision)."),
        _c("card_number", S, "FK → cards (or a replacement in card_events). The card used, or the account's card for "
                             "digital payments or an ATM deposit; null for money coming in without a card (income, "
                             "transfers in, a deposit at a branch).",
           "002/003", nullable=True),
        _c("account_id", S, "FK → accounts. The account debited or credited.", "004"),
        _c("customer_id", S, "FK → customers. The account holder.", "000"),
        _c("channel", S, "pos | online (card not present) | atm | transfer (digital banking, EFT) | branch (a "
                         "counter deposit).", "design"),
        _c("transaction_type", S, "purchase | withdrawal | transfer | bill_payment | salary | transfer_in | refund | "
                                  "interest (a savings account's, on the month's last day) | pension | grant (SASSA) | "
                                  "client_payment (a self-employed customer's client) | cash_deposit (notes at an "
                                  "ATM or a branch) | card_settlement (the acquirer paying a business its card sales "
                                  "at its terminal, merchant_id).", "design"),
        _c("direction", S, "debit (money out) | credit (money in).", "design"),
        _c("merchant_id", S, "FK → merchants. The shop, web shop or ATM (an ATM deposit's too; a card settlement's "
                             "terminal, the business's own); null for transfers.",
           "003", nullable=True),
        _c("category", S, "The merchant's category (Cash Withdrawal at ATMs); null for transfers.", "003", nullable=True),
        _c("mcc", S, "The merchant's category code; null for transfers.", "001/003", nullable=True),
        _c("beneficiary_id", S, "FK → beneficiaries. The party outside the bank: the payee of a transfer or bill "
                                "payment, or the payer of a credit from another bank (a parent, a client, a buyer).",
           "004", nullable=True),
        _c("counterparty_account_id", S, "FK → accounts. The account of this bank on the other side of a transfer "
                                         "(a payer's or a payee's, both ours); null otherwise.", "design",
           nullable=True),
        _c("amount", F8, "Amount in the scenario currency, always positive (direction says which way).", "000/002/003"),
        _c("currency", S, "ISO 4217 currency of `amount`: the account's.", "design"),
        _c("original_amount", F8, "Amount in the merchant's currency (abroad: local notes or prices); equal to amount "
                                  "at home.", "design"),
        _c("original_currency", S, "ISO 4217 currency of original_amount.", "design"),
        _c("lat", F8, "Where it happened: the terminal for card-present rows; the merchant's registered place for "
                      "card-not-present rows; the session's city (IP geolocation) for transfers; the bank's for "
                      "credits.", "000"),
        _c("lon", F8, "Longitude, as lat.", "000"),
        _c("city", S, "City of lat/lon.", "000/003"),
        _c("province", S, "Province of lat/lon; null abroad.", "000", nullable=True),
        _c("country", S, "ISO 3166 country code of lat/lon.", "003"),
        _c("device_id", S, "FK → devices. The device of a digital payment (online, transfer): usually the holder's "
                           "trusted phone; null when the card is present or money comes in.", "000/004", nullable=True),
        _c("ip_address", S, "IP address of a digital payment's session; null otherwise. Documentation ranges only "
                            "(nobody's): mobile carriers' and VPN exits' shared IPv4 in RFC 5737's blocks, homes, "
                            "addresses abroad and the rings' own in RFC 3849's 2001:db8::/32.", "design", nullable=True),
        _c("session_id", S, "FK → customer_events.session_id. The web session an online purchase is the purchase "
                            "event of; null for every other row.", "002", nullable=True),
        _c("recipient_status", S, "For a payment out: NEW_RECIPIENT when the account had never paid this merchant, "
                                  "payee or account before (its approved payments in this data, its customer's usual "
                                  "merchants in customer_merchants, its payees saved before the start and its "
                                  "customer's other accounts), else FAVORITE — the same rule for every row; null for "
                                  "money coming in.", "000", nullable=True),
        _c("status", S, "approved | declined.", "design"),
        _c("decline_reason", S, "Why a declined row was declined: insufficient_funds | card_blocked | card_expired | "
                                "account_frozen | account_closed; null when approved.", "design", nullable=True),
        _c("balance_after", F8, "The account's balance after the row (unchanged by a declined row); negative: owed or "
                                "overdrawn.", "design"),
        *LABELS,
    ),
    primary_key=("transaction_id",),
    foreign_keys=(ForeignKey("card_number", "cards", "card_number", CARD_OR_REPLACEMENT),
                  ForeignKey("account_id", "accounts", "account_id"),
                  ForeignKey("customer_id", "customers", "customer_id"),
                  ForeignKey("merchant_id", "merchants", "merchant_id"),
                  ForeignKey("beneficiary_id", "beneficiaries", "beneficiary_id"),
                  ForeignKey("counterparty_account_id", "accounts", "account_id"),
                  ForeignKey("device_id", "devices", "device_id"),
                  ForeignKey("session_id", "customer_events", "session_id"),
                  ForeignKey("fraud_episode_id", "fraud_episodes", "episode_id")),
)

FRAUD_TRANSACTIONS = TableSpec(
    "fraud_transactions", "fraud",
    "The fraudulent card transactions injected into each day, labelled with scenario and episode. Same columns as "
    "card_transactions: their union is the day's labelled stream.",
    CARD_TRANSACTIONS.columns,
    primary_key=("transaction_id",),
    foreign_keys=CARD_TRANSACTIONS.foreign_keys,
)

FRAUD_EPISODES = TableSpec(
    "fraud_episodes", "fraud",
    "One row per fraud episode, in the partition of the day it starts (its rows arrive that day or the next).",
    (
        _c("episode_id", S, "PK. {SCENARIO}-{start date, YYYYMMDD}-{number}: deterministic, unique across the calendar.", "design"),
        _c("scenario", S, "card_fraud_chain | atm_abroad | high_velocity | account_takeover.", "design"),
        _c("card_number", S, "FK → cards (or a replacement in card_events). The card used.", "design"),
        _c("account_id", S, "FK → accounts.", "design"),
        _c("customer_id", S, "FK → customers. The victim.", "design"),
        _c("start_time", TS, "The episode's first transaction.", "design"),
        _c("end_time", TS, "The episode's last transaction.", "design"),
        _c("transactions", I32, "Number of fraudulent rows (attempts, approved or declined).", "design"),
        _c("total_amount", F8, "Their total amount, scenario currency.", "design"),
        _c("label_available_at", TS, "When the bank learns of it: from then the card is blocked (and replaced).",
           "design"),
        _c("stealth", B, "Whether the episode imitates the victim (the scenario's stealth share).", "design"),
        _c("compromise_merchant_id", S, "FK → merchants. The point of compromise where the card data was stolen; "
                                        "null when it came from elsewhere.", "design", nullable=True),
        _c("compromised_at", TS, "When the card data was stolen there; null with no known point.", "design",
           nullable=True),
        _c("ring_id", S, "The fraud ring behind it (rings reuse devices, IP addresses and mule payees); null for a "
                         "stealthy card-not-present episode (a fresh device, no ring infrastructure).", "design",
           nullable=True),
        _c("parameters", S, "What was drawn for the episode, as JSON (length, anchor, distance, device, …).", "design"),
    ),
    primary_key=("episode_id",),
    foreign_keys=(ForeignKey("card_number", "cards", "card_number", CARD_OR_REPLACEMENT),
                  ForeignKey("account_id", "accounts", "account_id"),
                  ForeignKey("customer_id", "customers", "customer_id"),
                  ForeignKey("compromise_merchant_id", "merchants", "merchant_id")),
)

AML_CASES = TableSpec(
    "aml_cases", "fraud",
    "Laundering cases (issue 24): one row per case and member account, in the partition of the day the case starts "
    "(its rows arrive that day or in the days after). What the bank does not know: it learns of a case only if it "
    "reports it (label_available_at).",
    (
        _c("case_id", S, "{TYPOLOGY}-{start date, YYYYMMDD}-{block}-{number}: deterministic, unique across the "
                         "calendar.", "design"),
        _c("typology", S, "structuring | deposit_and_send | mule | untyped | cross_border | dormant | layering | "
                          "cycle | scatter_gather | gather_scatter | high_risk | front_business | new_account "
                          "(../shared/reference/aml-anchors.md §8.2 rows 1, 3, 2, 8, 9, 4, 5, 6, 6, 7 and 10 — an "
                          "account opened during the calendar to serve as a mule; high_risk: "
                          "flows to high-risk jurisdictions, crypto and offshore payees and on PEP accounts; untyped: "
                          "§8.1 rule 2, integration that fits no pattern).", "design"),
        _c("account_id", S, "FK → accounts. A member account.", "design"),
        _c("customer_id", S, "FK → customers. Its holder.", "design"),
        _c("role", S, "The account's role: source | placer | mule | layer | consolidator | exit | front_business.",
           "design"),
        _c("start_time", TS, "The case's first row.", "design"),
        _c("end_time", TS, "The case's last row.", "design"),
        _c("proceeds", F8, "The criminal proceeds the case puts into the bank (cash placed, what a mule's victims paid, "
                           "what a front's client paid, or what was handed over or paid in to be moved on), scenario "
                           "currency.", "design"),
        _c("stealth", B, "Whether the case imitates its genuine twin (the typology's stealth share).", "design"),
        _c("parameters", S, "What was drawn for the case, as JSON (deposits, days, branches, sends, …).", "design"),
        _c("label_available_at", TS, "When the bank would file its report (an STR) and so know the case; null for a "
                                     "case never reported.", "design", nullable=True),
    ),
    primary_key=("case_id", "account_id"),
    foreign_keys=(ForeignKey("account_id", "accounts", "account_id"),
                  ForeignKey("customer_id", "customers", "customer_id")),
)

AML_REPORTS = TableSpec(
    "aml_reports", "fraud",
    "The bank's suspicious transaction reports (issue 24): its observed label, true or not, beside the truth in "
    "aml_cases. One row per report and account, in the partition of the day the reported activity was planned (a "
    "case's, as aml_cases; an alert's day). Noisy both ways: cases never reported have none; a report names its "
    "customer's other accounts open by then; and a share of the genuine accounts the bank's monitoring alerts on are "
    "reported (aml.observed). Nothing in a row says which: a report is true when aml_cases names its account in a "
    "case overlapping activity_from..activity_to.",
    (
        _c("report_id", S, "STR-{YYYYMMDD of its partition}-{block}-{number, in a drawn order}: deterministic, "
                           "unique across the calendar.", "design"),
        _c("account_id", S, "FK → accounts. The account reported.", "design"),
        _c("customer_id", S, "FK → customers. Its holder.", "design"),
        _c("reported_at", TS, "When the bank files the report and so has the label: a reported case's "
                              "label_available_at; after an alert, as long as a case of a random typology.", "design"),
        _c("activity_from", TS, "The start of the activity reported, a midnight: the case's first day, or "
                                "lookback_days before the alert's day.", "design"),
        _c("activity_to", TS, "Its end, the last millisecond of a day: the case's last day, or the alert's day.",
           "design"),
    ),
    primary_key=("report_id", "account_id"),
    foreign_keys=(ForeignKey("account_id", "accounts", "account_id"),
                  ForeignKey("customer_id", "customers", "customer_id")),
)

ACCOUNT_BALANCES = TableSpec(
    "account_balances", "events",
    "Each account open at the end of each day (from the day it opens): its balance (what the day's approved rows "
    "leave), what it may still spend, its status and card. The next day starts from here.",
    (
        _c("account_id", S, "PK with the partition's date. FK → accounts.", "design"),
        _c("balance", F8, "End-of-day balance, scenario currency (negative: overdrawn or owed on a credit card).",
           "design"),
        _c("available", F8, "What a debit may take: balance plus the overdraft or credit limit (0 when the account "
                            "cannot pay).", "design"),
        _c("statement_balance", F8, "A credit account's balance at its latest statement (month end); null for debit "
                                    "accounts.", "design", nullable=True),
        _c("status", S, "active | dormant | frozen | closed, on that day.", "design"),
        _c("card_number", S, "The account's card in use at the end of the day (FK → cards or card_events).", "design"),
        _c("card_status", S, "active | blocked (fraud reported; a replacement is on its way) | expired.", "design"),
        _c("credits", F8, "Approved money in on the day.", "design"),
        _c("debits", F8, "Approved money out on the day.", "design"),
        _c("declined", I32, "Rows declined on the day.", "design"),
    ),
    primary_key=("account_id",),
    foreign_keys=(ForeignKey("account_id", "accounts", "account_id"),
                  ForeignKey("card_number", "cards", "card_number", CARD_OR_REPLACEMENT)),
)

CARD_EVENTS = TableSpec(
    "card_events", "events",
    "Each day's card lifecycle: renewals issued (new numbers before expiry), cards blocked when the bank learns of "
    "fraud on them, replacements issued for blocked cards, and cards that expire.",
    (
        _c("event_time", TS, "When it happened (local time).", "design"),
        _c("card_number", S, "FK → cards (a replacement's own issued event here names it). The card the event is "
                             "about: the new card for issued, the old one otherwise.", "design"),
        _c("account_id", S, "FK → accounts.", "design"),
        _c("customer_id", S, "FK → customers.", "design"),
        _c("event", S, "issued | blocked | expired.", "design"),
        _c("reason", S, "renewal | new_account (the first card of an account that opens during the calendar) | "
                        "fraud_reported | expiry.", "design"),
        _c("replaces_card_number", S, "FK → cards (or a replacement in card_events). For issued: the card it "
                                      "replaces; null otherwise.", "design", nullable=True),
        _c("expiry", S, "For issued: the new card's expiry MM/YY; null otherwise.", "design", nullable=True),
        _c("fraud_episode_id", S, "FK → fraud_episodes. For blocked: the episode whose discovery blocked it; null "
                                  "otherwise.", "design",
           nullable=True),
    ),
    primary_key=("card_number", "event"),
    foreign_keys=(ForeignKey("card_number", "cards", "card_number", CARD_OR_REPLACEMENT),
                  ForeignKey("account_id", "accounts", "account_id"),
                  ForeignKey("customer_id", "customers", "customer_id"),
                  ForeignKey("replaces_card_number", "cards", "card_number", CARD_OR_REPLACEMENT),
                  ForeignKey("fraud_episode_id", "fraud_episodes", "episode_id")),
)

WEB_VISITS = TableSpec(
    "web_visits", "events", "Visitor events on the bank's website: the top of seed 001's acquisition funnel.",
    (
        _c("visitor_id", S, "PK. V + visit date + a random 6-digit number.", "001"),
        _c("event_type", S, "landing | scroll | apply_click | view_pricing.", "001"),
        _c("campaign_id", S, "Marketing campaign: a word and three digits.", "001", nullable=True),
        _c("device_type", S, "mobile | desktop | tablet.", "001"),
        _c("geo", S, "Country of the visitor (ISO 3166).", "001"),
        _c("session_duration", F8, "Seconds on the site: normal(mean, sd), at least the configured minimum.", "001"),
        *_timing("When the visit happened (seed 001's timestamp)."),
    ),
    primary_key=("visitor_id",),
)

APPLICATIONS = TableSpec(
    "applications", "events", "Credit applications: a share of visitors apply 1–15 minutes after their visit.",
    (
        _c("app_id", S, "PK. P + visit date + a random 6-digit number.", "001"),
        _c("visitor_id", S, "FK → web_visits. The visit the application came from (possibly the day before).",
           "001"),
        _c("applicant_age", I32, "Declared age in years.", "001"),
        _c("annual_income", F8, "Declared annual income, scenario currency.", "001"),
        _c("employment_status", S, "salaried | self-employed | unemployed.", "001"),
        _c("req_credit_limit", I32, "Requested credit limit: income / 10.", "001"),
        _c("application_status", S, "approved | rejected | submitted | rejected - under age.", "001"),
        *_timing("When the application was submitted (seed 001's timestamp)."),
    ),
    primary_key=("app_id",),
    foreign_keys=(ForeignKey("visitor_id", "web_visits", "visitor_id"),),
)

NEW_ACCOUNTS = TableSpec(
    "new_accounts", "events", "Accounts opened for approved adult applicants, 2–24 hours after applying.",
    (
        _c("account_id", S, "PK. A + visit date + a random 6-digit number: never an entity account's id.", "001"),
        _c("app_id", S, "FK → applications. The approved application (possibly the day before).", "001"),
        _c("approved_limit", I32, "Approved limit: income / 10 × a factor (0.8–1.2).", "001"),
        _c("interest_rate", F8, "Annual interest rate, percent.", "001"),
        _c("account_status", S, "active.", "001"),
        *_timing("When the account was opened (seed 001's account_open_timestamp)."),
    ),
    primary_key=("account_id",),
    foreign_keys=(ForeignKey("app_id", "applications", "app_id"),),
)

NEW_ACCOUNT_TRANSACTIONS = TableSpec(
    "new_account_transactions", "events", "First transactions of a share of new accounts, 1–5 days after opening.",
    (
        _c("txn_id", S, "PK. X + visit date + a random 6-digit number.", "001"),
        _c("account_id", S, "FK → new_accounts. The new account (opened days before).", "001"),
        _c("amount", F8, "Amount, scenario currency.", "001"),
        _c("merchant_cat_code", S, "Merchant category code.", "001"),
        _c("location", S, "Country (ISO 3166).", "001"),
        _c("state", S, "Province.", "001"),
        _c("merchant_city", S, "City.", "001"),
        *_timing("When the transaction happened (seed 001's timestamp)."),
    ),
    primary_key=("txn_id",),
    foreign_keys=(ForeignKey("account_id", "new_accounts", "account_id"),),
)

CUSTOMER_EVENTS = TableSpec(
    "customer_events", "events",
    "Seed 002's clickstream: the bank's customers' sessions on the online shops of merchants — page views, clicks, "
    "add-to-cart and purchases. Every online card purchase (genuine or fraud, approved or declined) is the purchase "
    "event of one session; most sessions end without buying. A session's events arrive together when it closes "
    "(with its transaction, or timeout_minutes after its last event), in the partition of that day.",
    (
        _c("event_id", S, "PK. E + arrival date + a 9-digit sequence in arrival order.", "002"),
        _c("session_id", S, "The session: S + arrival date + a random 8-digit number — one device's visit to one "
                            "shop until timeout_minutes pass without an event (what a web-analytics sessioniser "
                            "finds); card_transactions.session_id names it for each of its purchases.", "002"),
        *_timing("When the event happened (local time); a purchase event at its transaction's event_time."),
        _c("customer_id", S, "FK → customers. The customer signed in (for card-not-present fraud: the stolen card's "
                             "holder, as the shop and the bank see it).", "002"),
        _c("device_id", S, "FK → devices. The session's device (for fraud, the fraudster's).", "000/004",
           nullable=True),
        _c("ip_address", S, "The session's IP address, from the same documentation ranges as card_transactions'.",
           "design", nullable=True),
        _c("merchant_id", S, "FK → merchants. The web shop.", "003"),
        _c("event_type", S, "page_view | click | add_to_cart | purchase (a session opens with a page_view of the "
                            "landing page; each product is a click and its page_view).", "002"),
        _c("product_id", S, "The shop's product: merchant id + P + its number (seed 002's 1–500 products a shop, "
                            "popularity Zipf-like); null on the landing page and on a purchase (the order).", "002",
           nullable=True),
        _c("product_category", S, "The shop's category (seed 003's categories).", "002/003"),
        _c("price", F8, "The product's price (scenario currency, fixed per shop and product); on a purchase, the "
                        "order's total — its transaction's amount, the carted product and any extras or shipping; "
                        "null on the landing page.", "002", nullable=True),
        _c("transaction_id", S, "FK → card_transactions or fraud_transactions (same partition): the purchase's "
                                "transaction; null for every other event.", "design", nullable=True),
        _c("is_fraud", B, "True for every event of a session whose purchase is fraudulent.", "design"),
        _c("fraud_scenario", S, "The purchase's fraud scenario; null otherwise.", "design", nullable=True),
        _c("fraud_episode_id", S, "FK → fraud_episodes. The purchase's fraud episode; null otherwise.", "design",
           nullable=True),
    ),
    primary_key=("event_id",),
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),
                  ForeignKey("device_id", "devices", "device_id"),
                  ForeignKey("merchant_id", "merchants", "merchant_id"),
                  ForeignKey("transaction_id", "card_transactions", "transaction_id",
                             ("fraud_transactions.transaction_id",)),
                  ForeignKey("fraud_episode_id", "fraud_episodes", "episode_id")),
)

BASELINE_PROFILE = TableSpec(
    "baseline_profile", "reports",
    "What normal looks like over the baseline days, per table, micro-batch and metric: what a data-quality gate "
    "or an anomaly model learns from.",
    (
        _c("table", S, "The event table measured.", "001"),
        _c("batch", I8, "Micro-batch of the day (0–7).", "001"),
        _c("metric", S, "volume, null_rate.{column}, conversion.{rate}, value.{column} or arrival_lag_seconds.",
           "001"),
        _c("observations", pa.int64(), "Baseline days (per-day metrics) or rows (value distributions) measured.",
           "design"),
        _c("mean", F8, "Mean.", "design", nullable=True),
        _c("std", F8, "Standard deviation (sample).", "design", nullable=True),
        *(_c(name, F8, f"{name[1:].lstrip('0')}th percentile.", "design", nullable=True)
          for name in ("p01", "p05", "p50", "p95", "p99")),
    ),
    primary_key=("table", "batch", "metric"),
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
        _c("source", S, "The seed notebook the column comes from, the Fraud Detection Handbook (handbook), or design.",
           "design"),
    ),
    primary_key=("table", "column"),
)

ANOMALY_LABELS = (
    _c("anomaly_type", S, "The planned anomaly that touched the row (null_burst, age_error, traffic_spike, fraud_spike, "
                          "limit_spike, stale_data, duplicate_burst, late_arrival); null when untouched.", "001",
       nullable=True),
    _c("anomaly_id", S, "FK → anomaly_manifest: {date}-b{batch}-{plan entry}; null when untouched.", "design",
       nullable=True),
)


def landing(spec: TableSpec) -> TableSpec:
    """The landing form of an event table: what a downstream pipeline ingests, eight micro-batch files a day.

    Every column may be null there (a null burst can hit any of them) and every row says which
    planned anomaly touched it.
    """
    columns = tuple(Column(c.name, c.type, c.description, c.source, nullable=True) for c in spec.columns)
    return TableSpec(f"landing_{spec.name}", "landing",
                     f"{spec.name} as delivered: one file per 3-hour micro-batch, the day's planned anomalies applied "
                     f"and labelled." + (" Clean and injected fraud rows together: the labelled stream."
                                         if spec.name == "card_transactions" else ""),
                     columns + ANOMALY_LABELS, primary_key=())


_PLANNED = (
    _c("anomaly_id", S, "PK. {date}-b{batch}-{plan entry}.", "design"),
    _c("day", D, "The calendar day.", "001"),
    _c("window_day", I32, "Day of the anomaly window (1 = the first day after the baseline).", "001"),
    _c("batch", I8, "Micro-batch (0–7) whose rows it touches.", "001"),
    _c("anomaly_type", S, "The operator.", "001"),
    _c("plan_entry", S, "The name of the plan entry in the scenario.", "design"),
    _c("table", S, "The landing table it touches.", "001"),
    _c("column", S, "The column it rewrites, if one.", "001", nullable=True),
    _c("parameters", S, "The entry's parameters, as JSON.", "design"),
)

ANOMALY_SCHEDULE = TableSpec(
    "anomaly_schedule", "reports",
    "The resolved anomaly plan over the anomaly window: one row per planned anomaly (day, micro-batch, type, "
    "target, parameters). Days after the window follow the scenario's after_window rule.",
    _PLANNED, primary_key=("anomaly_id",),
)

ANOMALY_MANIFEST = TableSpec(
    "anomaly_manifest", "reports",
    "Ground truth per day: each planned anomaly, the landing rows it touched, and its expected effect on the metric "
    "the baseline profile tracks, with what the landing batch shows.",
    (
        *_PLANNED,
        _c("rows_affected", pa.int64(), "Landing rows labelled with this anomaly_id.", "design"),
        _c("rows_removed", pa.int64(), "Rows withheld from the landing table (conversion drops).", "design"),
        _c("metric", S, "The baseline-profile metric it moves (see baseline_profile.metric).", "001"),
        _c("baseline", F8, "The metric's baseline mean for this table and batch.", "design", nullable=True),
        _c("expected", F8, "What the metric should read in the landing batch, given the parameters.", "design",
           nullable=True),
        _c("observed", F8, "What it reads in the landing batch.", "design", nullable=True),
        _c("effect", S, "The expected effect in words, e.g. null rate of campaign_id 0.25 vs baseline 0.00.", "001"),
        _c("also_affects", S, "Other metrics it moves as a side effect (table:metric@batch, comma separated).",
           "design", nullable=True),
    ),
    primary_key=("anomaly_id",),
)

DETECTION_SCORECARD = TableSpec(
    "detection_scorecard", "reports",
    "How reference detectors do on the data: logistic regression and a random forest trained on the baseline "
    "days with the labels known by their end, tested on the 7 days after (known compromised cards removed), overall "
    "and per fraud scenario — the Fraud Detection Handbook's protocol and metrics — on the scenario's sample of whole "
    "customers (detection.sample_share, keyed on the customer number; the counts below are the sample's).",
    (
        _c("detector", S, "logistic_regression | random_forest (scikit-learn).", "design"),
        _c("scenario", S, "all, or a fraud scenario (its fraud rows with every genuine row).", "design"),
        _c("roc_auc", F8, "Area under the ROC curve over the test rows.", "handbook"),
        _c("average_precision", F8, "Average precision (area under the precision-recall curve) over the test rows.",
           "handbook"),
        _c("card_precision_at_100", F8, "Per test day, the share of compromised cards among the 100 highest-scoring "
                                        "cards (of a sample: its 100 × share highest, the same share of the day's "
                                        "cards); mean over the test days.", "handbook"),
        _c("ceiling", F8, "The best card precision@100 possible: the day's compromised cards (at most 100, or 100 × "
                          "share) over 100 (100 × share), mean over the test days.", "handbook"),
        _c("share_of_ceiling", F8, "card_precision_at_100 ÷ ceiling.", "design", nullable=True),
        _c("test_rows", pa.int64(), "Payments scored on the test days.", "design"),
        _c("test_fraud_rows", pa.int64(), "Of which fraudulent.", "design"),
        _c("compromised_cards_per_day", F8, "Cards with fraud on a test day, mean over the test days.", "design"),
        _c("train_fraud_rows", pa.int64(), "Fraud rows on the training days.", "design"),
        _c("label_coverage", F8, "Share of them whose label was known by the end of training (the rest train as "
                                 "genuine).", "design", nullable=True),
    ),
    primary_key=("detector", "scenario"),
)

AML_SCORECARD = TableSpec(
    "aml_scorecard", "reports",
    "How reference AML detectors do on the bank's money movement (transfers, cash, income; every row of the whole "
    "bank): a South African rule set and gradient boosting on 40 features of the row and its account's past, trained "
    "on the days before the last detection.aml_test_share of the scenario's days with the labels known by then and "
    "with all labels (AMLworld's protocol), overall and per typology — transaction-level F1 and PR-AUC beside "
    "AMLworld's published F1, account-level precision and recall at an alert budget, recall at 1 % and 5 % false "
    "positives, case recall. Empty when the days hold too little laundering to train and test on (the metadata says "
    "why): a few weeks of the default bank hold a few dozen cases; `python -m fraud_pipeline.detection --aml "
    "--simulate --days 120` scores a longer run.",
    (
        _c("detector", S, "rules | boosted_known_labels | boosted_observed_labels | boosted_all_labels (trained on "
                          "the truth known at the cut-off, on the bank's reports filed by then, on all the truth).",
           "design"),
        _c("typology", S, "all, or a typology (its laundering rows with every genuine row).", "design"),
        _c("f1", F8, "Minority-class F1 at the best threshold over the test rows (the AMLworld/Multi-GNN metric).",
           "aml-anchors §8.3"),
        _c("pr_auc", F8, "Average precision over the test rows.", "aml-anchors §8.3"),
        _c("precision_at_budget", F8, "Of the `alerts` accounts scoring highest over the test days, the share that "
                                      "laundered (all typologies only).", "AMLGentex", nullable=True),
        _c("recall_at_budget", F8, "Of the laundering accounts, the share among the alerts.", "AMLGentex"),
        _c("recall_at_1pct_fpr", F8, "Recall of laundering accounts at 1 % of genuine accounts alerted.", "BAF"),
        _c("recall_at_5pct_fpr", F8, "Recall of laundering accounts at 5 % of genuine accounts alerted.", "BAF"),
        _c("case_recall_at_budget", F8, "Share of cases with an account among the alerts.", "aml-anchors §8.3"),
        _c("test_rows", pa.int64(), "Rows scored on the test days (the typology's with every genuine row).", "design"),
        _c("test_laundering_rows", pa.int64(), "Of which laundering.", "design"),
        _c("accounts", pa.int64(), "Accounts with a row on the test days.", "design"),
        _c("laundering_accounts", pa.int64(), "Of which laundered.", "design"),
        _c("cases", pa.int64(), "Cases with a row on the test days.", "design"),
        _c("alerts", pa.int64(), "The alert budget: accounts reviewed over the test days "
                                 "(detection.aml_alerts_per_100k_accounts_month).", "AMLGentex"),
        _c("train_laundering_rows", pa.int64(), "Laundering rows on the training days.", "design"),
        _c("train_known_rows", pa.int64(), "Of which reported (label_available_at) before the test days.", "design"),
        _c("train_observed_rows", pa.int64(), "Training rows the bank's reports (aml_reports) filed by the cut-off "
           "name (the typology's; for `all` all, false suspicions too).", "design", nullable=True),
    ),
    primary_key=("detector", "typology"),
)

ENTITY_TABLES = (CUSTOMERS, DEVICES, DEVICE_HISTORY, ACCOUNTS, CARDS, BENEFICIARIES, ACCOUNT_BENEFICIARIES, MERCHANTS,
                 CUSTOMER_MERCHANTS, FEATURE_CATALOGUE)
FUNNEL_TABLES = (WEB_VISITS, APPLICATIONS, NEW_ACCOUNTS, NEW_ACCOUNT_TRANSACTIONS)
EVENT_TABLES = (CARD_TRANSACTIONS, CUSTOMER_EVENTS, *FUNNEL_TABLES)
EVENT_TABLE_NAMES = tuple(spec.name for spec in EVENT_TABLES)  # the clean event tables: profiled, then landed
LANDING_TABLES = {spec.name: landing(spec) for spec in EVENT_TABLES}  # by event table name
TABLES: dict[str, TableSpec] = {t.name: t for t in (*ENTITY_TABLES, CARD_TRANSACTIONS, FRAUD_TRANSACTIONS,
                                                   FRAUD_EPISODES, AML_CASES, AML_REPORTS, ACCOUNT_BALANCES,
                                                   CARD_EVENTS, CUSTOMER_EVENTS,
                                                   *FUNNEL_TABLES,
                                                   *LANDING_TABLES.values(),
                                                   BASELINE_PROFILE, ANOMALY_SCHEDULE, ANOMALY_MANIFEST,
                                                   DETECTION_SCORECARD, AML_SCORECARD)}
