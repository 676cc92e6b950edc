"""The simulated bank as aligned arrays, built once per run from the entity tables and the scenario's streams.

Everything a day needs about people and places: each customer's budget, rhythm, habits, devices,
IP addresses and trips; each account's status, limits and payees; each merchant's place and
currency. Nothing here depends on a day's outcome (that is `state`), so a day computed alone sees
the same world as a day in a range.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core.columns import luhn_check_digit, nullable, row_of, row_of_id, sorted_unique, spans
from fraud_pipeline.core.streams import stream
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.scenario.population import PAY_SCHEDULES
from fraud_pipeline.world import fraud_plan, spending
from fraud_pipeline.world.accounts import (STATUS_NAMES, card_roles, card_weights, later_serial, replacement_slot,
                                          salary_buffers)
from fraud_pipeline.world.devices import NEVER, DevicePlan, block_plan_in_bank, day_number, device_plan
from fraud_pipeline.world.habits import Habits, block_habits, category_rows, habits, merchant_rows
from fraud_pipeline.world.addresses import address_rows, address_text, addresses
from fraud_pipeline.world.layout import Layout
from fraud_pipeline.world.remitters import cross_border_homes, family_abroad, remittance_shares
from fraud_pipeline.world.spatial import SpatialIndex

CHANNEL_NAMES = ("pos", "online", "transfer", "atm")
AGE_BOUNDS = np.array([25, 35, 45, 55, 65, 75])  # age groups 18–24, 25–34, …, 65–74, 75+
CENTS = 100
PAIRS_AT_ONCE = 1_000_000  # customer–merchant pairs keyed at a time (bounds the world's build, not its bytes)
# What the world reads of each entity table: a worker reads these columns only (the names, e-mails and KYC fields
# are most of the customers' bytes), and the customers' usual merchants as record batches (`UsualMerchants`).
WORLD_COLUMNS = {
    "customers": ("customer_id", "age", "avg_spend", "home_city", "home_lat", "home_lon", "monthly_income",
                  "monthly_turnover", "pay_schedule", "occupation", "pep_flag"),
    "accounts": ("account_id", "customer_id", "account_type", "status", "opened_date", "closed_date", "salary_account",
                 "credit_limit", "overdraft_limit", "opening_balance", "avg_balance"),
    "cards": ("card_number", "account_id", "issued_date", "expiry"),
    "merchants": ("merchant_id", "terminal_type", "category", "mcc", "city", "province", "country", "currency", "lat",
                  "lon"),
    "devices": ("device_id", "vpn_flag", "rooted_flag", "emulator_flag"),
    "beneficiaries": ("beneficiary_id", "beneficiary_type", "country", "is_high_risk"),
    "account_beneficiaries": ("account_id", "beneficiary_id", "added_date"),
    "customer_merchants": ("customer_id", "merchant_id"),
}
UsualMerchants = pa.Table | Iterable[pa.RecordBatch]  # customer_merchants, whole or as batches read one at a time


@dataclass(frozen=True)
class Trips:
    """Genuine trips, one row each: the customer, first and last day (day numbers), and where: a province
    (domestic) or a destination abroad."""

    customer: np.ndarray
    first_day: np.ndarray
    last_day: np.ndarray
    abroad: np.ndarray
    destination: np.ndarray  # province index, or destination index when abroad

    def on(self, day: int, n_customers: int) -> np.ndarray:
        """Per customer, the trip they are on that day (-1: at home)."""
        trip = np.full(n_customers, -1)
        active = np.flatnonzero((self.first_day <= day) & (self.last_day >= day))
        trip[self.customer[active[::-1]]] = active[::-1]  # reversed: the earliest trip wins an overlap
        return trip


@dataclass
class World:
    scenario: Scenario
    # customers
    customer_id: pa.Array
    age: np.ndarray
    age_group: np.ndarray
    income: np.ndarray
    turnover: np.ndarray  # per customer: what comes in a month, rands — their business's turnover
    # (`customers.monthly_turnover`) if they own one, else their income
    affluence: np.ndarray
    schedule: np.ndarray  # index into PAY_SCHEDULES
    occupation: np.ndarray  # index into the scenario's customers.occupation
    pep: np.ndarray  # per customer: a politically exposed person (seed 004's pep_flag)
    home_country: np.ndarray  # a cross-border customer's neighbouring country (index into the region's destinations);
    # -1 for everyone else
    family_abroad: np.ndarray  # per customer: the beneficiary row a remitter sends money home to, -1 for none
    remittance_share: np.ndarray  # per customer: the share of income a remitter sends home monthly
    home_lat: np.ndarray
    home_lon: np.ndarray
    home_city: np.ndarray  # index into the region's city list
    home_province: np.ndarray
    category_weights: np.ndarray  # (customers, categories)
    basket: np.ndarray
    avg_spend: np.ndarray
    habits: Habits
    # accounts (one card lineage each)
    account_id: pa.Array
    account_customer: np.ndarray
    status: np.ndarray  # index into STATUS_NAMES at the start
    opened_day: np.ndarray  # day number it opened (after the start for one that opens during the run)
    closed_day: np.ndarray  # day number, NEVER if it stays open
    salary: np.ndarray
    credit: np.ndarray
    savings: np.ndarray  # a savings account (`account_type`): earns interest
    business: np.ndarray  # a business account (`account_type`): a business owner's, their clients pay it
    limit: np.ndarray  # cents: overdraft or credit limit
    opening: np.ndarray  # cents
    activity: np.ndarray  # relative card activity (genuine payments per day, before the day's noise)
    salary_of: np.ndarray  # per customer: the account their income is paid into, -1 for none
    buffer: np.ndarray  # per account, cents: what a salary account keeps beyond the month's payments
    sweep_payee: np.ndarray  # per account: the payee (beneficiary row) a salary account sends savings to, -1 for none
    # cards
    card_number: pa.Array  # the entity cards: first cards, then renewals
    card_account: np.ndarray
    card_issue_day: np.ndarray
    card_expiry_month: np.ndarray  # absolute month (year * 12 + month - 1) in which the card last works
    card_bin: np.ndarray  # per account: the first six digits of its cards
    # merchants
    merchant_id: pa.Array
    merchant_lat: np.ndarray
    merchant_lon: np.ndarray
    merchant_city: pa.Array
    merchant_province: pa.Array
    merchant_country: pa.Array
    merchant_currency: np.ndarray  # index into `currencies`
    merchant_category: np.ndarray  # index into the scenario's categories; -1 for ATMs
    category_name: pa.Array  # per merchant row
    mcc: pa.Array
    shops: list[np.ndarray]  # per category: domestic point-of-sale rows
    shop_index: list[SpatialIndex]
    web_shops: list[np.ndarray]  # per category: domestic web shops
    foreign_web_shops: list[np.ndarray]
    atms: np.ndarray  # domestic ATM rows
    atm_index: SpatialIndex
    foreign_shops: list[np.ndarray]  # per destination
    foreign_atms: list[np.ndarray]
    currencies: list[str]
    rates: np.ndarray  # region currency per unit, per currency
    notes: np.ndarray  # smallest ATM note, per currency
    # cities (session places of transfers; the bank's place for credits)
    city_lat: np.ndarray
    city_lon: np.ndarray
    city_name: pa.Array
    city_province: pa.Array
    city_country: pa.Array
    # payees, sorted by account
    payee_offsets: np.ndarray
    payee: np.ndarray  # beneficiary row
    payee_added: np.ndarray  # day number
    payee_first_paid: np.ndarray  # day number of the first payment
    payee_is_business: np.ndarray
    beneficiary_id: pa.Array
    beneficiary_type: np.ndarray
    beneficiary_country: np.ndarray  # ISO 3166-1 alpha-2
    beneficiary_high_risk: np.ndarray
    bills: pd.DataFrame  # account, payee (beneficiary row), cents, offset (days after payday)
    # devices and addresses
    devices: DevicePlan
    device_id: pa.Array
    device_vpn: np.ndarray  # per device row: masks its address behind a VPN
    device_risky: np.ndarray  # per device row: rooted, emulator or VPN
    home_ip: np.ndarray  # per customer, index into ip_address
    ip_address: pa.Array
    mobile_ips: np.ndarray
    vpn_ips: np.ndarray  # VPN exit addresses, shared by honest VPN users and fraudsters
    foreign_ips: list[np.ndarray]  # per destination
    ring_ips: np.ndarray  # (rings, ips.max): the rings' own addresses
    computer_ip: np.ndarray  # per shared or public computer (`devices.computer_rows` order): its place's address
    trips: Trips
    mules: np.ndarray  # (rings, mules.max) beneficiary rows
    ato_plan: pd.DataFrame  # account takeovers planned over the horizon
    known_at_start: np.ndarray  # sorted recipient keys (account × key space + recipient)
    key_space: int
    caches: dict = field(default_factory=dict, compare=False, repr=False)  # pure per-day values, reused in a range
    # A block's world (`world.blocks.block_world`): its customers, accounts and cards, re-indexed from 0, the draws of
    # its days keyed by `block_key`, and the bank it belongs to for what spans blocks. The bank itself: all None.
    block_key: tuple = ()
    global_customers: np.ndarray | None = field(default=None, compare=False, repr=False)  # local row -> bank's row
    global_accounts: np.ndarray | None = field(default=None, compare=False, repr=False)
    global_cards: np.ndarray | None = field(default=None, compare=False, repr=False)
    bank: "World | None" = field(default=None, compare=False, repr=False)
    # A block's: the bank's IP rows whose addresses its `ip_address` holds, ascending (`engine.blocks.block_fields`:
    # its customers' homes and computers, the shared pools). The bank: None, `ip_address` holds every row.
    ip_rows: np.ndarray | None = field(default=None, repr=False)
    # The bank's totals its blocks' calibrations are shares of (`money.activity.Totals`): a stored directory carries
    # them (its blocks' rows are not there to add up); None elsewhere (worked out from the bank when asked).
    totals: object | None = field(default=None, compare=False, repr=False)

    @property
    def n_customers(self) -> int:
        return len(self.customer_id)

    @property
    def n_accounts(self) -> int:
        return len(self.account_id)

    @property
    def block_number(self) -> int:
        """The world's block (0 for the bank as one block)."""
        return int(self.block_key[0]) if self.block_key else 0

    @property
    def n_blocks(self) -> int:
        """How many blocks the bank's customers fill (the last may be partial)."""
        return max(1, -(-self.directory.n_customers // self.scenario.population.block_customers))

    @property
    def directory(self) -> "World":
        """The whole bank: what a block reads of other blocks (accounts as payees, household members' phones)."""
        return self.bank if self.bank is not None else self

    def merchant_abroad(self) -> np.ndarray:
        """Per merchant (bool): outside the scenario's country. Worked out once for the bank and kept in its caches:
        each block reading the merchants' countries as Python strings cost time that followed the bank's size."""
        bank = self.directory
        if ("merchant_abroad",) not in bank.caches:
            bank.caches[("merchant_abroad",)] = (self.merchant_country.to_numpy(zero_copy_only=False)
                                                 != self.scenario.geography.country_code)
        return bank.caches[("merchant_abroad",)]

    def bank_customers(self, customer: np.ndarray) -> np.ndarray:
        """The bank's row numbers of this world's customers."""
        return customer if self.global_customers is None else self.global_customers[customer]

    def bank_accounts(self, account: np.ndarray) -> np.ndarray:
        """The bank's row numbers of this world's accounts (-1 stays -1)."""
        if self.global_accounts is None:
            return account
        account = np.asarray(account)
        return np.where(account >= 0, self.global_accounts[np.maximum(account, 0)], -1)

    def local_accounts(self, account: np.ndarray) -> np.ndarray:
        """This world's rows of the bank's accounts `account` (the inverse of `bank_accounts`); -1 for another
        block's accounts and for -1."""
        account = np.asarray(account, np.int64)
        if self.global_accounts is None:
            return account
        if len(self.global_accounts) == 0:
            return np.full(len(account), -1)
        at = np.minimum(np.searchsorted(self.global_accounts, account), len(self.global_accounts) - 1)
        return np.where((account >= 0) & (self.global_accounts[at] == account), at, -1)

    def ip_text(self, ip: np.ndarray) -> pa.Array:
        """The addresses of IP rows `ip` (the bank's numbering, as `home_ip`, the pools and the day's rows hold
        them; -1 gives a null). A block holds the addresses of its own rows only (`ip_rows`): the bank's home
        addresses are one per customer, too many for every block to hold.

        Raises ValueError naming the rows when the block holds no address for some of them (a row it cannot use)."""
        ip = np.asarray(ip)
        if self.ip_rows is not None:
            at = np.minimum(np.searchsorted(self.ip_rows, ip), len(self.ip_rows) - 1)
            held = (ip < 0) | (self.ip_rows[at] == ip)
            if not held.all():
                raise ValueError(f"block {self.block_number} holds no address for IP rows {np.unique(ip[~held])[:5]}")
            ip = np.where(ip >= 0, at, -1)
        return self.ip_address.take(nullable(ip))

    def replacement_number(self, account: np.ndarray, number: np.ndarray) -> pa.Array:
        """Card numbers of replacements issued after fraud: the account's `number`-th (0, 1, …), on the account's BIN,
        with a serial no renewal and no other replacement takes."""
        payload = self.card_bin[account] * 10**9 + later_serial(self.bank_accounts(account), replacement_slot(number),
                                                                self.directory.n_accounts)
        return pc.cast(pa.array(payload * 10 + luhn_check_digit(payload, 15)), pa.string())


def _labels(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A column of a few distinct strings as an object array whose elements are those few strings, shared: pyarrow
    makes a str object per row (at 2 million customers, 3 million beneficiaries' types were 170 MB of them)."""
    encoded = pc.dictionary_encode(values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values)
    names = np.append(encoded.dictionary.to_numpy(zero_copy_only=False).astype(object), None)  # last: a null's
    return names[pc.fill_null(encoded.indices, len(names) - 1).to_numpy(zero_copy_only=False)]


def bank_rows(scenario: Scenario, customers: pa.Table, accounts: pa.Table) -> dict[str, object]:
    """What every block reads of the customers and accounts given (`engine.world_store.DIRECTORY_ROWS`): their ids,
    the customers' home cities (index into the region's cities), each account's owner (row of `customers`), status
    (index into STATUS_NAMES), opened and closed days (NEVER when it stays open) and whether it is its holder's
    salary account (where laundering among our customers is drawn: `aml.networks`)."""
    cities = [city.name for p in scenario.geography.provinces for city in p.cities]
    return {"customer_id": customers["customer_id"].combine_chunks(),
            "home_city": _index(customers["home_city"], cities),
            "account_id": accounts["account_id"].combine_chunks(),
            "account_customer": row_of(accounts["customer_id"], customers["customer_id"]),
            "status": _index(accounts["status"], list(STATUS_NAMES)),
            "opened_day": day_numbers(accounts["opened_date"]),
            "closed_day": day_numbers(accounts["closed_date"]),
            "salary": accounts["salary_account"].to_numpy(zero_copy_only=False).astype(bool)}


def _index(values: pa.Array | pa.ChunkedArray, names: list[str]) -> np.ndarray:
    """Each value's position in `names`, -1 where absent."""
    return pc.fill_null(pc.index_in(values, pa.array(names)), -1).to_numpy(zero_copy_only=False).astype(np.int64)


@dataclass(frozen=True)
class BlockPlace:
    """Where one block's rows lie among the bank's, for its world built from its own entity rows (`build_world`
    with a place): what the block's rows cannot say of themselves. Customers and accounts are placed by the layout."""

    block: int
    first_card: int  # the bank's row of the block's first card (cards are block-major; their count is drawn)
    device_offset: int  # the bank's row of the block's first own device (`devices.own_device_offsets`)
    plan: DevicePlan  # the bank's plan without customers (`DevicePlan.of_customers(0, 0)`): computers, rings, burners


def build_world(scenario: Scenario, entities: dict[str, pa.Table], place: BlockPlace | None = None) -> World:
    """The bank's world from its entity tables; or, with `place`, block `place.block`'s world from its own rows of
    the per-customer tables (and the shared tables whole): the fields a block owns (`engine.blocks.block_fields`,
    re-indexed from 0, numbered in the bank where they name the bank's rows) equal the bank's world's, sliced. Its
    other fields are a stand-in for the directory's (IP addresses: the block's own; the devices table: as given)."""
    customers, accounts, cards = entities["customers"], entities["accounts"], entities["cards"]
    merchants, devices = entities["merchants"], entities["devices"]
    seed, region = scenario.seed, scenario.geography
    n_customers, n_accounts = customers.num_rows, accounts.num_rows

    income = customers["monthly_income"].to_numpy()
    turnover = customers["monthly_turnover"].fill_null(0.0).to_numpy()
    turnover = np.where(customers["monthly_turnover"].is_valid().to_numpy(zero_copy_only=False), turnover, income)
    affluence = np.maximum(income / spending.volume_scale(scenario), 1.0) / spending.reference_income(scenario)
    age = customers["age"].to_numpy()
    age_group = np.searchsorted(AGE_BOUNDS, age, side="right")
    cities = [(i, city) for i, p in enumerate(region.provinces) for city in p.cities]
    rows = bank_rows(scenario, customers, accounts)
    home_city, account_customer, status, opened_day, closed_day, salary = (rows[name] for name in (
        "home_city", "account_customer", "status", "opened_day", "closed_day", "salary"))
    credit = accounts["credit_limit"].to_numpy() > 0
    savings = pc.equal(accounts["account_type"], "savings").to_numpy(zero_copy_only=False)
    business_account = pc.equal(accounts["account_type"], "business").to_numpy(zero_copy_only=False)
    limit = np.round((accounts["credit_limit"].to_numpy() + accounts["overdraft_limit"].to_numpy()) * CENTS).astype(np.int64)
    opening = np.round(accounts["opening_balance"].to_numpy() * CENTS).astype(np.int64)
    avg_spend = customers["avg_spend"].to_numpy()
    budget = scenario.money.card_share_of_income * income / np.maximum(avg_spend, 1.0)  # purchases a month
    layout = Layout.of(scenario)
    blocks = range(layout.n_blocks) if place is None else [place.block]
    account_ends = layout.account_ends() if place is None else np.array([n_accounts])
    first_account = 0 if place is None else layout.account_span(place.block)[0]
    customer_spans = [(b, layout.customer_span(b) if place is None else (0, n_customers)) for b in blocks]
    home_country = np.concatenate([cross_border_homes(scenario, b, end - first) for b, (first, end) in customer_spans])
    level = np.concatenate([spending.activity_level(scenario, b) for b in blocks])
    purchases = budget * level / spending.basket_divisor(level)  # avg_spend holds the divisor
    # a customer's accounts share their activity by weight (dormant ones are silent, frozen ones keep trying)
    role = card_roles(salary, credit, savings)
    weight = card_weights(scenario, role, np.array(STATUS_NAMES)[status])
    full = card_weights(scenario, role, np.full(n_accounts, "active"))
    shared = np.bincount(account_customer, weights=np.where(status == STATUS_NAMES.index("dormant"), 0.0, full),
                         minlength=n_customers)
    activity = purchases[account_customer] * weight / np.maximum(shared[account_customer], 1e-12)
    salary_of = np.full(n_customers, -1)
    salary_of[account_customer[salary]] = np.flatnonzero(salary)

    card_account = row_of(cards["account_id"], accounts["account_id"])
    expiry = cards["expiry"].to_numpy(zero_copy_only=False).astype(str)
    expiry_month = (2000 + np.array([int(e[3:]) for e in expiry])) * 12 + np.array([int(e[:2]) for e in expiry]) - 1
    first_number = cards["card_number"].to_numpy(zero_copy_only=False)
    first_card = np.full(n_accounts, -1)
    first_card[card_account[::-1]] = np.arange(len(card_account))[::-1]
    card_bin = np.array([int(first_number[i][:6]) for i in first_card], np.int64)

    # what every block shares (merchants, cities, payees' kinds): the same for every block, so made once a process
    shared = _shared_fields(scenario, merchants, entities["beneficiaries"]) if place is None else _kept_shared(
        scenario, merchants, entities["beneficiaries"])

    payees = entities["account_beneficiaries"]
    link_account = row_of(payees["account_id"], accounts["account_id"])
    payee_row = row_of_id(payees["beneficiary_id"], shared["beneficiary_id"])
    added = payees["added_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    order = np.lexsort((added, link_account))
    link_account, payee_row, added = link_account[order], payee_row[order], added[order]
    f = scenario.beneficiaries.first_payment_days
    link_ends = np.searchsorted(link_account, account_ends)
    first_paid = added + np.concatenate([  # each block's links from its own stream (accounts are block-major)
        stream(seed, "world", "first_payment", b).integers(f.min, f.max + 1, end - begin)
        for b, (begin, end) in zip(blocks, zip(np.r_[0, link_ends[:-1]], link_ends))])
    # the mules takeovers save are the fraudster's payees, not the customer's: genuine activity never pays them
    planned = fraud_plan.ato_payee_saves(scenario, accounts, entities["beneficiaries"],
                                         None if place is None else place.block)
    n_payees = entities["beneficiaries"].num_rows
    fraudsters = np.isin(link_account * n_payees + payee_row,
                         row_of(planned["account_id"], accounts["account_id"]) * n_payees
                         + row_of_id(planned["beneficiary_id"], shared["beneficiary_id"]))
    first_paid[fraudsters] = NEVER
    business = shared["beneficiary_type"][payee_row] == "merchant"
    offsets = np.concatenate([[0], np.cumsum(np.bincount(link_account, minlength=n_accounts))])

    if place is None:
        plan = device_plan(scenario)
        ip, home_ip, mobile, vpn, foreign, ring_ips, computer_ips = addresses(scenario, n_customers, plan)
    else:
        plan = block_plan_in_bank(scenario, place.block, place.plan, place.device_offset)
        home_ip, mobile, vpn, foreign, ring_ips, computer_ips = address_rows(scenario, plan)
        ip = None  # the block's own, below (`ip_rows`)
    start = day_number(scenario.start_date)
    world = World(
        scenario=scenario, customer_id=rows["customer_id"], age=age, age_group=age_group,
        income=income, turnover=turnover, avg_spend=avg_spend,
        affluence=affluence, schedule=_index(customers["pay_schedule"], list(PAY_SCHEDULES)),
        occupation=_index(customers["occupation"], list(scenario.customers.occupation)),
        pep=customers["pep_flag"].to_numpy(zero_copy_only=False).astype(bool),
        home_country=home_country, family_abroad=np.full(n_customers, -1),
        remittance_share=np.concatenate([remittance_shares(scenario, b, end - first) for b, (first, end) in
                                         customer_spans]),
        home_lat=customers["home_lat"].to_numpy(), home_lon=customers["home_lon"].to_numpy(), home_city=home_city,
        home_province=np.array([cities[i][0] for i in home_city]),
        category_weights=spending.category_weights(scenario, affluence),
        basket=spending.basket(scenario, affluence) / spending.basket_divisor(level),
        habits=habits(scenario, customers, merchants) if place is None else block_habits(
            scenario, place.block, customers, merchants),
        account_id=rows["account_id"], account_customer=account_customer, status=status,
        opened_day=opened_day, closed_day=closed_day, salary=salary, credit=credit, savings=savings,
        business=business_account, limit=limit, opening=opening,
        activity=activity,
        salary_of=salary_of, buffer=np.round(np.where(salary, np.concatenate([
            salary_buffers(scenario, income[account_customer[first:end]], b)
            for b, (first, end) in zip(blocks, zip(np.r_[0, account_ends[:-1]], account_ends))]), 0) * CENTS).astype(
            np.int64),
        sweep_payee=np.full(n_accounts, -1),
        card_number=cards["card_number"].combine_chunks(), card_account=card_account,
        card_issue_day=cards["issued_date"].to_numpy().astype("datetime64[D]").astype(np.int64),
        card_expiry_month=expiry_month, card_bin=card_bin,
        payee_offsets=offsets, payee=payee_row, payee_added=added, payee_first_paid=first_paid,
        payee_is_business=business,
        bills=_bills(scenario, blocks, account_ends, income, account_customer, salary, offsets, payee_row, added, start,
                     np.isin(shared["beneficiary_type"][payee_row], ["merchant", "individual"])
                     & (shared["beneficiary_country"][payee_row] == scenario.geography.country_code)),
        devices=plan, device_id=devices["device_id"].combine_chunks(),
        device_vpn=devices["vpn_flag"].to_numpy(zero_copy_only=False).astype(bool),
        device_risky=(devices["vpn_flag"].to_numpy(zero_copy_only=False) | devices["rooted_flag"].to_numpy(
            zero_copy_only=False) | devices["emulator_flag"].to_numpy(zero_copy_only=False)).astype(bool),
        home_ip=home_ip, ip_address=ip, mobile_ips=mobile, vpn_ips=vpn, foreign_ips=foreign, ring_ips=ring_ips,
        computer_ip=computer_ips,
        trips=_trips(scenario, affluence, home_city, [i for i, _ in cities]) if place is None else _block_trips(
            scenario, place.block, affluence, home_city, [i for i, _ in cities]),
        mules=fraud_plan.mules(scenario, entities["beneficiaries"]),
        ato_plan=fraud_plan.ato_plan(scenario, accounts) if place is None else _local_accounts(
            fraud_plan.ato_plan_of_block(scenario, place.block, accounts), first_account),
        known_at_start=np.zeros(0, np.int64), **shared,
        key_space=merchants.num_rows + entities["beneficiaries"].num_rows + layout.accounts,
    )
    world.family_abroad = np.concatenate([family_abroad(scenario, b, home_country[first:end], world.beneficiary_country,
                                                        world.beneficiary_type) for b, (first, end) in customer_spans])
    world.known_at_start = _known_at_start(world, entities, start, first_account)
    world.sweep_payee = _sweep_payees(world)
    if place is not None:
        world = _placed(world, place, first_account)
    return world


_SHARED: list = []  # per process: [(merchants, beneficiaries, scenario hash, their shared fields)], the last


def _kept_shared(scenario: Scenario, merchants: pa.Table, beneficiaries: pa.Table) -> dict:
    """`_shared_fields` of these very tables (held, so never mistaken for others), made once while blocks are built."""
    if not (_SHARED and _SHARED[0][0] is merchants and _SHARED[0][1] is beneficiaries
            and _SHARED[0][2] == scenario.content_hash):
        _SHARED[:] = [(merchants, beneficiaries, scenario.content_hash,
                       _shared_fields(scenario, merchants, beneficiaries))]
    return _SHARED[0][3]


def _shared_fields(scenario: Scenario, merchants: pa.Table, beneficiaries: pa.Table) -> dict:
    """The world's fields every block shares: the merchants' places, kinds and currencies with their spatial indexes,
    the cities, the beneficiaries' ids, kinds and risk."""
    region, c = scenario.geography, scenario.card_transactions
    cities = [(i, city) for i, p in enumerate(region.provinces) for city in p.cities]
    city_names = [city.name for _, city in cities]
    categories = list(scenario.merchants.categories)
    country = region.country_code
    shops = category_rows(merchants, merchant_rows(merchants, "pos", country), categories)
    lat, lon = merchants["lat"].to_numpy(), merchants["lon"].to_numpy()
    currencies = sorted({region.currency, *(d.currency for d in region.destinations)})
    rates = {region.currency: 1.0, **{d.currency: d.rate for d in region.destinations}}
    notes = {region.currency: int(c.atm.amount_step), **{d.currency: d.atm_note for d in region.destinations}}
    destination_cities = [d.city.name for d in region.destinations]
    merchant_city = merchants["city"].to_numpy(zero_copy_only=False)
    abroad = merchants["country"].to_numpy(zero_copy_only=False) != country
    terminal = merchants["terminal_type"].to_numpy(zero_copy_only=False)
    atms = merchant_rows(merchants, "atm", country)
    category_index = _index(merchants["category"], categories)
    return dict(
        merchant_id=merchants["merchant_id"].combine_chunks(), merchant_lat=lat, merchant_lon=lon,
        merchant_city=merchants["city"].combine_chunks(), merchant_province=merchants["province"].combine_chunks(),
        merchant_country=merchants["country"].combine_chunks(),
        merchant_currency=_index(merchants["currency"], currencies),
        merchant_category=category_index,
        category_name=merchants["category"].combine_chunks(), mcc=merchants["mcc"].combine_chunks(),
        shops=shops, shop_index=[SpatialIndex(lat[rows], lon[rows]) for rows in shops],
        web_shops=category_rows(merchants, merchant_rows(merchants, "ecommerce", country), categories),
        foreign_web_shops=category_rows(merchants, merchant_rows(merchants, "ecommerce", country, foreign=True),
                                        categories),
        atms=atms, atm_index=SpatialIndex(lat[atms], lon[atms]),
        foreign_shops=[np.flatnonzero(abroad & (terminal == "pos") & (merchant_city == name))
                       for name in destination_cities],
        foreign_atms=[np.flatnonzero(abroad & (terminal == "atm") & (merchant_city == name))
                      for name in destination_cities],
        currencies=currencies, rates=np.array([rates[k] for k in currencies]),
        notes=np.array([notes[k] for k in currencies]),
        city_lat=np.array([city.lat for _, city in cities] + [d.city.lat for d in region.destinations]),
        city_lon=np.array([city.lon for _, city in cities] + [d.city.lon for d in region.destinations]),
        city_name=pa.array(city_names + destination_cities),
        city_province=pa.array([region.provinces[i].name for i, _ in cities] + [None] * len(region.destinations),
                               pa.string()),
        city_country=pa.array([country] * len(cities) + [d.country_code for d in region.destinations]),
        beneficiary_id=beneficiaries["beneficiary_id"].combine_chunks(),
        beneficiary_type=_labels(beneficiaries["beneficiary_type"]),
        beneficiary_country=_labels(beneficiaries["country"]),
        beneficiary_high_risk=beneficiaries["is_high_risk"].to_numpy(zero_copy_only=False).astype(bool))


def _local_accounts(plan: pd.DataFrame, first_account: int) -> pd.DataFrame:
    """A block's takeover plan with its accounts numbered from the block's first."""
    return plan.assign(account=plan["account"].to_numpy() - first_account)


def _placed(world: World, place: BlockPlace, first_account: int) -> World:
    """A world built from block `place.block`'s rows with its maps to the bank's rows and its own IP addresses (its
    customers' homes and computers, the shared pools: `engine.blocks._ip_rows`), numbered as the bank numbers them."""
    plan = world.devices
    first = plan.first_customer
    computer = np.concatenate([plan.shared_computer, plan.public_computer])
    computer = np.searchsorted(plan.computer_rows, computer[computer >= 0])
    rows = np.unique(np.concatenate([world.home_ip, world.computer_ip[computer], world.mobile_ips, world.vpn_ips,
                                     *world.foreign_ips, world.ring_ips.ravel()]))
    return replace(world, ip_rows=rows, ip_address=address_text(world.scenario, rows, plan), block_key=(place.block,),
                   global_customers=np.arange(first, first + world.n_customers),
                   global_accounts=np.arange(first_account, first_account + world.n_accounts),
                   global_cards=np.arange(place.first_card, place.first_card + len(world.card_number)))


def day_numbers(dates: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Dates as day numbers since 1970-01-01; null as NEVER."""
    days = pc.cast(pc.cast(dates, pa.int32()), pa.int64())
    return pc.fill_null(days, NEVER).to_numpy(zero_copy_only=False).astype(np.int64)


def _sweep_payees(world: "World") -> np.ndarray:
    """Per salary account, where what is left of the month goes: its first payee saved before the start that is a
    person (family) or a business (an investment) in the region's country and not high-risk (never a crypto wallet
    or offshore account); -1 for none."""
    start = day_number(world.scenario.start_date)
    account = np.repeat(np.arange(world.n_accounts), np.diff(world.payee_offsets))
    ok = (world.payee_added < start) & np.isin(world.beneficiary_type[world.payee], ["individual", "merchant"])
    ok &= ~world.beneficiary_high_risk[world.payee]
    ok &= world.beneficiary_country[world.payee] == world.scenario.geography.country_code  # never family abroad
    ok &= world.payee_first_paid < NEVER
    rows = np.flatnonzero(ok)
    found = np.full(world.n_accounts, -1)
    found[account[rows][::-1]] = world.payee[rows][::-1]  # the first such payee of each account
    return np.where(world.salary, found, -1)


def _bills(scenario: Scenario, blocks, account_ends: np.ndarray, income: np.ndarray, account_customer: np.ndarray,
           salary: np.ndarray, offsets: np.ndarray, payee: np.ndarray, added: np.ndarray, start: int,
           billable: np.ndarray) -> pd.DataFrame:
    """Debit orders of salary accounts: up to 1–4 saved payees that bill (businesses, landlords in the region: never a
    crypto wallet, an offshore account or family abroad), each a fixed share of the bills budget, paid each month a few days after
    payday. `blocks`: the blocks whose accounts these are, ending at `account_ends`."""
    return pd.concat([_block_bills(scenario, b, first + np.flatnonzero(salary[first:end] & (
        np.diff(offsets[first:end + 1]) > 0)), income, account_customer, offsets, payee, added, start, billable)
        for b, (first, end) in zip(blocks, zip(np.r_[0, account_ends[:-1]], account_ends))], ignore_index=True)


def _block_bills(scenario: Scenario, block: int, accounts: np.ndarray, income: np.ndarray,
                 account_customer: np.ndarray, offsets: np.ndarray, payee: np.ndarray, added: np.ndarray, start: int,
                 billable: np.ndarray) -> pd.DataFrame:
    """`_bills` of block `block`'s salary `accounts` that have payees, from the block's streams."""
    m = scenario.money
    rng = lambda purpose: stream(scenario.seed, "world", "bills", purpose, block)  # noqa: E731
    wanted = rng("count").integers(m.bills.min, m.bills.max + 1, len(accounts))
    rows = []
    for slot in range(m.bills.max):
        has = slot < np.minimum(wanted, np.diff(offsets)[accounts])
        mine = accounts[has]
        first, count = offsets[mine], offsets[mine + 1] - offsets[mine]
        pick = first + (slot % np.maximum(count, 1))
        rows.append(pd.DataFrame({"account": mine, "payee": payee[pick], "slot": slot,
                                  "billed": (added[pick] < start) & billable[pick]}))  # saved before the start
    bills = pd.concat(rows, ignore_index=True)
    bills = bills[bills["billed"]].drop_duplicates(["account", "payee"])
    share = rng("share").dirichlet(np.ones(max(m.bills.max, 1)), len(accounts))
    weights = share[np.searchsorted(accounts, bills["account"].to_numpy()), bills["slot"].to_numpy()]  # sorted
    total = pd.Series(weights).groupby(bills["account"].to_numpy()).transform("sum").to_numpy()
    budget = income[account_customer[bills["account"].to_numpy()]] * m.bills_share_of_income
    bills = bills.assign(cents=np.round(budget * weights / total * CENTS).astype(np.int64),
                         offset=rng("offset").integers(0, 7, len(bills)))
    return bills[["account", "payee", "cents", "offset"]].reset_index(drop=True)


def _trips(scenario: Scenario, affluence: np.ndarray, home_city: np.ndarray, city_province: list[int]) -> Trips:
    """The bank's customers' trips: each block's (`_block_trips`), one after another (so sorted by customer)."""
    layout = Layout.of(scenario)
    found = []
    for block in range(layout.n_blocks):
        first, end = layout.customer_span(block)
        trips = _block_trips(scenario, block, affluence[first:end], home_city[first:end], city_province)
        found.append(replace(trips, customer=trips.customer + first))
    return Trips(*(np.concatenate([getattr(t, f.name) for t in found]) for f in fields(Trips)))


def _block_trips(scenario: Scenario, block: int, affluence: np.ndarray, home_city: np.ndarray,
                 city_province: list[int]) -> Trips:
    """Trips over the horizon of block `block`'s customers (numbered from 0 here): domestic ones to another
    province, trips abroad likelier for the affluent."""
    t = scenario.travel
    rng = lambda purpose: stream(scenario.seed, "world", "trips", purpose, block)  # noqa: E731
    n = len(affluence)
    first, last = day_number(scenario.start_date), day_number(scenario.horizon_end)
    longest = max(t.domestic_days.max, t.abroad_days.max, t.cross_border.days.max)
    years = (last - first + 1 + longest) / 365.25
    region = scenario.geography
    parts = []
    for abroad, rate, days in ((False, t.domestic_trips_per_year * np.ones(n), t.domestic_days),
                               (True, t.abroad_trips_per_year * affluence ** 0.8, t.abroad_days)):
        count = rng(f"count_{abroad}").poisson(rate * years)
        customer = np.repeat(np.arange(n), count)
        begin = first - longest + rng(f"start_{abroad}").integers(0, last - first + 1 + longest, len(customer))
        length = rng(f"length_{abroad}").integers(days.min, days.max + 1, len(customer))
        if abroad:
            weights = np.array([d.weight for d in region.destinations])
            where = rng("destination").choice(len(weights), len(customer), p=weights / weights.sum())
        else:
            home = np.array(city_province)[home_city[customer]]
            provinces = len(region.provinces)
            where = (home + 1 + rng("province").integers(0, max(provinces - 1, 1), len(customer))) % provinces
        parts.append((customer, begin, begin + length - 1, np.full(len(customer), abroad), where))
    # cross-border customers: short, frequent trips home or to shop, to one neighbouring country each
    c = t.cross_border
    home = cross_border_homes(scenario, block, n)  # the same draws as the world's `home_country`
    home_country, crosser = np.maximum(home, 0), home >= 0
    count = rng("cross_border_count").poisson(c.trips_per_month * 12 * years) * crosser
    customer = np.repeat(np.arange(n), count)
    begin = first - c.days.max + rng("cross_border_start").integers(0, last - first + 1 + c.days.max, len(customer))
    length = rng("cross_border_length").integers(c.days.min, c.days.max + 1, len(customer))
    parts.append((customer, begin, begin + length - 1, np.ones(len(customer), bool), home_country[customer]))
    customer, begin, end, abroad, where = (np.concatenate(x) for x in zip(*parts))
    order = np.lexsort((begin, customer))
    return Trips(customer[order], begin[order], end[order], abroad[order], where[order])


def recipient_key(world: World, account: np.ndarray, merchant: np.ndarray, payee: np.ndarray,
                  counterparty: np.ndarray) -> np.ndarray:
    """One number per (account, recipient): merchants, then beneficiaries, then our accounts; -1 with none."""
    n_merchants = len(world.merchant_id)
    n_payees = len(world.beneficiary_id)
    recipient = np.where(merchant >= 0, merchant, np.where(payee >= 0, n_merchants + payee,
                                                           np.where(counterparty >= 0,
                                                                    n_merchants + n_payees + counterparty, -1)))
    return np.where(recipient >= 0, account.astype(np.int64) * world.key_space + recipient, -1)


def _known_at_start(world: World, entities: dict[str, pa.Table | UsualMerchants], start: int,
                    first_account: int = 0) -> np.ndarray:
    """What each account had paid before the calendar: its customer's usual merchants, its payees saved before
    the start, and its customer's other accounts — sorted recipient keys. The (account, usual merchant) pairs are
    dozens per customer, so they are keyed `PAIRS_AT_ONCE` customer–merchant pairs at a time, from the table or
    from its record batches as they are read: memory follows the keys, not the pairs."""
    usual = entities["customer_merchants"]
    owner = world.account_customer
    grouped = np.argsort(owner, kind="stable")  # the accounts grouped by customer
    count = np.bincount(owner, minlength=world.n_customers)
    first = np.cumsum(count) - count
    keys = []
    for pairs in _pair_chunks(usual):
        c = row_of_id(pairs["customer_id"], world.customer_id)
        m = row_of_id(pairs["merchant_id"], world.merchant_id)
        account = grouped[spans(first[c], count[c])]
        none = np.full(len(account), -1)
        keys.append(sorted_unique(recipient_key(world, account, np.repeat(m, count[c]), none, none)))
    account = np.repeat(np.arange(world.n_accounts), np.diff(world.payee_offsets))
    saved = world.payee_added < start
    none = np.full(int(saved.sum()), -1)
    keys.append(recipient_key(world, account[saved], none, world.payee[saved], none))
    other = grouped[spans(first[owner], count[owner])]
    account = np.repeat(np.arange(world.n_accounts), count[owner])
    sibling = other != account
    none = np.full(int(sibling.sum()), -1)
    keys.append(recipient_key(world, account[sibling], none, none, other[sibling] + first_account))  # the bank's
    every = np.concatenate(keys)
    del keys
    return sorted_unique(every, in_place=True)  # sorted where it lies: the build's peak is two copies, not three


def _pair_chunks(usual: UsualMerchants) -> Iterable[pa.Table | pa.RecordBatch]:
    """The usual merchants `PAIRS_AT_ONCE` rows at a time (a table sliced; batches as they come, split if larger)."""
    for batch in ([usual] if isinstance(usual, pa.Table) else usual):
        for lo in range(0, batch.num_rows, PAIRS_AT_ONCE):
            yield batch.slice(lo, PAIRS_AT_ONCE)
