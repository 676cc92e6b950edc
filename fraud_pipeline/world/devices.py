"""Devices people bank from, and how that changes: new phones, second devices, households, fraud rings.

The plan is drawn block by block, from each block's streams, for the whole horizon (start to `horizon_end`):
who has which phone at the start, when each buys a new one (a new device, untrusted for a few days,
then the trusted one), who also banks from a tablet or laptop (never trusted), who sometimes pays
from a household member's phone, a household or workplace computer several customers share, or an
internet café or library computer. Fraud rings own devices of their own. The `devices` table holds
every device, `device_history` each customer's devices over time, so a day's device use is a pure
function of the plan and the date.

Every device people share is shared within one block of customers (`population.block_customers`,
customers numbered densely in entity order: customer c is in block c // block_customers): a household
phone, a household or workplace computer, an internet café's, a phone shared when there are fewer devices
than customers. A block's day never sees another block's rows, so two blocks using one device at one web
shop within the session timeout would make two sessions where a web-analytics sessioniser finds one
visit. Fraudsters' devices follow the same rule: a block has its own share of the fresh devices stealthy
fraud uses, and a ring works one block's stolen cards a day (`fraud.scenarios.rings_on`). A block's own devices
are numbered from 0 in its plan and named by a keyed bijection of (row, block) (`device_numbers`), so a worker
generates a block's devices without counting any other block's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pyarrow as pa

from fraud_pipeline.core import columns as col, keys, schemas
from fraud_pipeline.core.streams import choose, stream
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.world.layout import Layout, kept

DEVICE_TYPE_BY_OS = {"android": "mobile", "ios": "mobile", "windows": "desktop"}
ID_SPACE = 10**8
NEVER = np.iinfo(np.int64).max  # a phone still in use at the horizon


@dataclass(frozen=True)
class DevicePlan:
    """Device rows and each customer's devices over the horizon; days are numbers since 1970-01-01.

    A block's plan (`block_device_plan`) numbers its own devices from 0 — its phones and tablets in use at the start,
    the phones its customers buy later, its household and workplace computers, its internet cafés' — and puts after
    them the devices every block shares: the rings' and the fresh devices stealthy fraud uses (`burner_devices`,
    each block its share). The bank's plan (`device_plan`) is its blocks' own devices one block after another, then
    the rings' and the burners once. Customers keep the bank's numbers in both."""

    phone_change_customer: np.ndarray  # one entry per new phone: the bank's customer number
    phone_change_day: np.ndarray
    phone_trust_day: np.ndarray  # when the new phone becomes trusted
    phone_change_row: np.ndarray  # the new phone's device row
    first_phone: np.ndarray  # per customer: device row of the phone at the start
    second_device: np.ndarray  # per customer: device row of a tablet/laptop, -1 for none
    household_phone_of: np.ndarray  # per customer: the customer whose phone they sometimes use, -1 for none
    shared_computer: np.ndarray  # per customer: device row of a household or workplace computer of 3–6 users, or -1
    public_computer: np.ndarray  # per customer: device row of the internet café or library computer they use, or -1
    computer_rows: np.ndarray  # device rows of the shared and public computers, ascending (what `computer_ip` follows)
    computer_block: np.ndarray  # per computer (`computer_rows` order): its block (a café's computer may have no user)
    ring_devices: np.ndarray  # (ring_replicas × rings × devices.max) device rows
    burner_devices: np.ndarray  # the plan's fresh devices: a block's share, or the bank's
    n_devices: int
    block_customers: int  # customers per block: what the shared devices and the fraudsters' devices are cut by
    ring_replicas: int  # copies of the rings' devices: one, or enough for every block to have a ring each day
    bank_customers: int  # the bank's customers (a block's plan holds some of them)
    first_customer: int = 0  # the plan's first customer (the bank's number)
    own_burners: bool = False  # a block's plan (`block_device_plan`): `burner_devices` are its share already

    @property
    def n_customers(self) -> int:
        return self.bank_customers

    @property
    def n_blocks(self) -> int:
        return max(1, -(-self.n_customers // self.block_customers))

    def of_customers(self, first: int, end: int) -> "DevicePlan":
        """The plan of the bank's customers `first` … `end` − 1 (a block's): their rows of the per-customer arrays and
        their new phones, device rows numbered as in this plan. Every device a block's customers use is theirs or one
        of their block's (households, shared and public computers), so a block needs no other customer's rows: the
        bank's are 50 bytes a customer, too many for every worker to hold.

        Raises ValueError when the plan does not hold those customers."""
        if first < self.first_customer or end > self.first_customer + len(self.first_phone) or end < first:
            raise ValueError(f"the device plan of customers {self.first_customer} to "
                             f"{self.first_customer + len(self.first_phone) - 1} cannot give customers {first} to "
                             f"{end - 1}")
        mine = np.flatnonzero((self.phone_change_customer >= first) & (self.phone_change_customer < end))
        cut = slice(first - self.first_customer, end - self.first_customer)
        return replace(self, phone_change_customer=self.phone_change_customer[mine],
                       phone_change_day=self.phone_change_day[mine], phone_trust_day=self.phone_trust_day[mine],
                       phone_change_row=self.phone_change_row[mine], first_phone=self.first_phone[cut],
                       second_device=self.second_device[cut], household_phone_of=self.household_phone_of[cut],
                       shared_computer=self.shared_computer[cut], public_computer=self.public_computer[cut],
                       first_customer=first)

    def block_burners(self, block: int) -> np.ndarray:
        """The fresh devices block `block` uses: its share of the burners, by its share of the customers (the
        bank's burners are cut into consecutive runs, so a burner serves one block; with fewer burners than
        blocks, a block whose run would be empty borrows its neighbour's last). A block's own plan holds its
        share only."""
        if self.own_burners:
            return self.burner_devices
        return self.burner_devices[burner_span(len(self.burner_devices), block, self.block_customers,
                                               self.n_customers)]

    def phone_on(self, day: int, customer: np.ndarray, trusted: bool) -> np.ndarray:
        """Each customer's phone in use on `day` (trusted=False), or their trusted phone (trusted=True); `customer`:
        the bank's numbers, of this plan's customers. The plan's latest phones of the day are worked out once and
        kept for the day. Raises ValueError for a customer the plan does not hold (an index would wrap silently)."""
        own = np.asarray(customer) - self.first_customer
        if own.size and (own.min() < 0 or own.max() >= len(self.first_phone)):
            raise ValueError(f"the device plan of customers {self.first_customer} to "
                             f"{self.first_customer + len(self.first_phone) - 1} holds no customer outside them")
        memo = self.__dict__.setdefault("_latest", {})  # not a field: the plan is frozen, and equal without it
        if (day, trusted) not in memo:
            if len(memo) >= 4:
                memo.clear()
            memo[(day, trusted)] = self._latest_phones(day, trusted)
        mine = memo[(day, trusted)][own]
        return np.where(mine >= 0, mine, self.first_phone[own])

    def _latest_phones(self, day: int, trusted: bool) -> np.ndarray:
        """Per customer of the plan: the device row of their latest new phone in use (or trusted) by `day`, -1 for
        none."""
        start = self.phone_trust_day if trusted else self.phone_change_day
        switched = np.flatnonzero(start <= day)  # new phones in use (or trusted) by that day
        owner = self.phone_change_customer[switched] - self.first_customer
        order = np.lexsort((start[switched], owner))
        last_of_owner = np.append(owner[order][1:] != owner[order][:-1], True)[:len(owner)]
        latest = np.full(len(self.first_phone), -1)
        latest[owner[order][last_of_owner]] = self.phone_change_row[switched[order][last_of_owner]]
        return latest


def burner_span(n_burner: int, block: int, block_customers: int, customers: int) -> slice:
    """Block `block`'s run of the bank's `n_burner` burners (see `DevicePlan.block_burners`)."""
    first, end = block * block_customers, min((block + 1) * block_customers, customers)
    low, high = n_burner * first // customers, n_burner * end // customers
    low = min(low, n_burner - 1) if high == low else low
    return slice(low, max(high, low + 1))


def day_number(day: date) -> int:
    return (day - date(1970, 1, 1)).days


@dataclass(frozen=True)
class OwnDevices:
    """A block's own devices, numbered from 0: its initial devices (phones and tablets in use at the start), the
    new phones, the shared computers, the public computers, in that order."""

    n_initial: int
    n_new: int
    n_shared: int
    n_public: int

    @property
    def total(self) -> int:
        return self.n_initial + self.n_new + self.n_shared + self.n_public


_OWN_PLANS: dict[tuple[str, int], tuple[DevicePlan, OwnDevices]] = {}  # several tables read a block's plan
KEPT_PLANS = 64


def _block_own_plan(scenario: Scenario, block: int) -> tuple[DevicePlan, OwnDevices]:
    """Block `block`'s devices, own rows from 0 (`OwnDevices`), from the block's streams; rings and burners not yet
    placed (empty). Kept for the process (the last `KEPT_PLANS` blocks'): the devices, accounts, device history and
    world of a block each need it. Read-only."""
    return kept(_OWN_PLANS, (scenario.content_hash, block), lambda: _drawn_block_plan(scenario, block), KEPT_PLANS)


def _drawn_block_plan(scenario: Scenario, block: int) -> tuple[DevicePlan, OwnDevices]:
    d, seed = scenario.devices, scenario.seed
    rng = lambda purpose: stream(seed, "device_plan", purpose, block)  # noqa: E731
    layout = Layout.of(scenario)
    first_customer, end = layout.customer_span(block)
    n_customers = end - first_customer
    low, high = layout.device_span(block)
    n_initial = max(high - low, 1)  # a block holds one phone at least: its customers share nothing with another's
    order = rng("phones").permutation(n_initial)
    phones = min(n_customers, n_initial)
    first_phone = _first_phones(rng, order[:phones], n_customers)
    spare = order[phones:]
    wants_second = np.flatnonzero(rng("second").random(n_customers) < d.second_device_share)[:len(spare)]
    second = np.full(n_customers, -1)
    second[wants_second] = spare[:len(wants_second)]
    household = np.full(n_customers, -1)
    shares_phone = np.flatnonzero(rng("household").random(n_customers) < d.household_share)
    if n_customers > 1:  # a household member: another customer of the block
        step = 1 + rng("household_member").integers(0, n_customers - 1, len(shares_phone))
        household[shares_phone] = first_customer + (shares_phone + step) % n_customers

    first, last = day_number(scenario.start_date), day_number(scenario.horizon_end)
    years = (last - first + 1) / 365.25
    changes = rng("changes").poisson(years / d.phone_change_years, n_customers)
    customer = np.repeat(np.arange(n_customers), changes)
    change_day = first + rng("change_day").integers(0, last - first + 1, len(customer))
    by_day = np.lexsort((customer, change_day))
    customer, change_day = customer[by_day], change_day[by_day]
    trust_days = rng("trust").integers(d.new_phone_trust_days.min, d.new_phone_trust_days.max + 1, len(customer))
    first_shared = n_initial + len(customer)
    shared, n_shared = _shared_computers(rng, d.shared_computers, n_customers, first_shared)
    public, n_public = _public_computers(rng, d.public_computers, n_customers, first_shared + n_shared)
    own = OwnDevices(n_initial, len(customer), n_shared, n_public)
    empty = np.zeros(0, np.int64)
    plan = DevicePlan(first_customer + customer, change_day, change_day + trust_days,
                      n_initial + np.arange(len(customer)),
                      first_phone, second, household, shared, public, first_shared + np.arange(n_shared + n_public),
                      np.full(n_shared + n_public, block), empty, empty, own.total, layout.block_customers,
                      ring_replicas(scenario), layout.customers,
                      first_customer)
    return plan, own


def block_own_devices(scenario: Scenario, block: int) -> int:
    """How many devices block `block` owns (its rows of the devices table, before the rings' and burners')."""
    return _block_own_plan(scenario, block)[1].total


def ring_replicas(scenario: Scenario) -> int:
    """Copies of the rings' devices: a ring works for one block a day, so with more blocks than rings each ring has
    copies of its devices."""
    return -(-Layout.of(scenario).n_blocks // scenario.fraud.rings.count)


def n_ring_devices(scenario: Scenario) -> int:
    rings = scenario.fraud.rings
    return rings.count * rings.devices.max * ring_replicas(scenario)


def block_device_plan(scenario: Scenario, block: int) -> DevicePlan:
    """Block `block`'s plan: its own devices from row 0, then the rings' devices, then its share of the burners.
    Raises ValueError for a block the bank does not have."""
    plan, own = _block_own_plan(scenario, block)
    n_ring = n_ring_devices(scenario)
    layout = Layout.of(scenario)
    burners = burner_span(scenario.fraud.rings.burners, block, layout.block_customers, layout.customers)
    n_burner = burners.stop - burners.start
    return replace(plan, ring_devices=own.total + np.arange(n_ring),
                   burner_devices=own.total + n_ring + np.arange(n_burner), n_devices=own.total + n_ring + n_burner,
                   own_burners=True)


def device_plan(scenario: Scenario) -> DevicePlan:
    """The bank's plan: each block's own devices one block after another (`block_device_plan`), then the rings'
    devices and the burners once."""
    blocks = [_block_own_plan(scenario, b) for b in range(Layout.of(scenario).n_blocks)]
    offsets = np.concatenate([[0], np.cumsum([own.total for _, own in blocks])])
    shift = lambda rows, b: np.where(rows >= 0, rows + offsets[b], -1)  # noqa: E731
    joined = lambda name: np.concatenate([shift(getattr(p, name), b) for b, (p, _) in enumerate(blocks)])  # noqa: E731
    n_own, n_ring = int(offsets[-1]), n_ring_devices(scenario)
    first = blocks[0][0]
    return replace(first, phone_change_customer=np.concatenate([p.phone_change_customer for p, _ in blocks]),
                   phone_change_day=np.concatenate([p.phone_change_day for p, _ in blocks]),
                   phone_trust_day=np.concatenate([p.phone_trust_day for p, _ in blocks]),
                   phone_change_row=joined("phone_change_row"), first_phone=joined("first_phone"),
                   second_device=joined("second_device"),
                   household_phone_of=np.concatenate([p.household_phone_of for p, _ in blocks]),
                   shared_computer=joined("shared_computer"), public_computer=joined("public_computer"),
                   computer_rows=joined("computer_rows"),
                   computer_block=np.concatenate([p.computer_block for p, _ in blocks]),
                   ring_devices=n_own + np.arange(n_ring),
                   burner_devices=n_own + n_ring + np.arange(scenario.fraud.rings.burners),
                   n_devices=n_own + n_ring + scenario.fraud.rings.burners, first_customer=0)


def own_device_offsets(scenario: Scenario) -> np.ndarray:
    """Per block, the bank's row of its first own device, then the count of every block's own devices (the rings'
    first row): the bank's plan numbers each block's own devices after the blocks' before it (`device_plan`)."""
    return np.concatenate([[0], np.cumsum([block_own_devices(scenario, b)
                                           for b in range(Layout.of(scenario).n_blocks)])]).astype(np.int64)


def block_plan_in_bank(scenario: Scenario, block: int, bank: DevicePlan, offset: int) -> DevicePlan:
    """Block `block`'s customers' plan as the bank's plan gives it (`device_plan(scenario).of_customers(first,
    end)`), made from the block's own plan alone: its device rows moved to the bank's (`offset`: the bank's row of
    its first own device, `own_device_offsets`); `bank`: the bank's plan without customers (`of_customers(0, 0)`),
    whose computers, rings and burners it shares."""
    own, _ = _block_own_plan(scenario, block)
    shift = lambda rows: np.where(rows >= 0, rows + offset, -1)  # noqa: E731
    return replace(bank, phone_change_customer=own.phone_change_customer, phone_change_day=own.phone_change_day,
                   phone_trust_day=own.phone_trust_day, phone_change_row=shift(own.phone_change_row),
                   first_phone=shift(own.first_phone), second_device=shift(own.second_device),
                   household_phone_of=own.household_phone_of, shared_computer=shift(own.shared_computer),
                   public_computer=shift(own.public_computer), first_customer=own.first_customer)


def _first_phones(rng, phones: np.ndarray, customer_count: int) -> np.ndarray:
    """Each of a block's customers' phone at the start: their own while there are devices (`phones`, in customer
    order), else a phone of another customer of the block."""
    if len(phones) >= customer_count:
        return phones[:customer_count]
    found = np.empty(customer_count, np.int64)
    found[:len(phones)] = phones
    sharers = customer_count - len(phones)
    found[len(phones):] = phones[(rng("phone_share").random(sharers) * len(phones)).astype(np.int64)]
    return found


def _shared_computers(rng, config, customer_count: int, first_row: int) -> tuple[np.ndarray, int]:
    """A block's household and workplace computers: `config.share` of its customers, in groups of `config.users`
    (min–max) users, one computer per group. The last users, too few for a group of `users.min`, join the groups
    before them, one each (a group then has up to `users.max` + 1). Returns per customer its computer's device row
    (-1 for none) and the count."""
    users = np.flatnonzero(rng("shared").random(customer_count) < config.share)
    users = users[rng("shared_order").permutation(len(users))]
    found = np.full(customer_count, -1)
    if not len(users):
        return found, 0
    sizes = rng("shared_sizes").integers(config.users.min, config.users.max + 1, len(users) // config.users.min + 1)
    ends = np.cumsum(sizes)
    group = np.searchsorted(ends, np.arange(len(users)), side="right")
    last = group[-1]
    left = len(users) - (ends[last - 1] if last else 0)  # users of the last, perhaps partial, group
    if left < config.users.min and last > 0:
        group[-left:] = last - 1 - np.arange(left) % last
    found[users] = first_row + group
    return found, int(group.max()) + 1


def _public_computers(rng, config, customer_count: int, first_row: int) -> tuple[np.ndarray, int]:
    """A block's internet café and library computers: `config.share` of its customers each use one of them, about
    `users_per_computer` customers per computer (one at least, when anyone uses one). Returns per customer the
    device row (-1 for none) and the count."""
    users = np.flatnonzero(rng("public").random(customer_count) < config.share)
    computers = max(round(len(users) / config.users_per_computer), 1) if len(users) else 0
    found = np.full(customer_count, -1)
    found[users] = first_row + (rng("public_pick").random(len(users)) * computers).astype(np.int64)
    return found, computers


def device_numbers(scenario: Scenario, block: int, rows: np.ndarray) -> np.ndarray:
    """The device numbers (D…, below ID_SPACE) of block `block`'s own device rows `rows`, or with `block` = the
    number of blocks, of the rings' and burners' (rows counted from the first ring device): a keyed bijection of
    row × (blocks + 1) + block, so every block numbers its devices without asking another and none repeats.
    Raises ValueError when a block has more devices than the space holds for it."""
    blocks = Layout.of(scenario).n_blocks + 1
    rows = np.asarray(rows, np.int64)
    if rows.size and int(rows.max()) * blocks + block >= ID_SPACE:
        raise ValueError(f"block {block} has {int(rows.max()) + 1:,} devices; {ID_SPACE:,} device numbers hold "
                         f"{(ID_SPACE - 1 - block) // blocks + 1:,} per block at {blocks - 1:,} blocks: use smaller "
                         "blocks (population.block_customers)")
    return keys.permute(keys.label_key(scenario.seed, "device_ids"), rows * blocks + block, ID_SPACE)


def devices(scenario: Scenario, customers: pa.Table | None = None) -> pa.Table:
    """Every device: each block's own (`devices_of_block`), then the rings' and the burners (`fraudster_devices`),
    in the bank plan's row order (`device_plan`)."""
    return pa.concat_tables([devices_of_block(scenario, b) for b in range(Layout.of(scenario).n_blocks)]
                            + [fraudster_devices(scenario)])


def devices_of_block(scenario: Scenario, block: int) -> pa.Table:
    """Block `block`'s own devices, in its plan's row order: those in use at the start, the phones customers buy
    later, the household and workplace computers, the internet cafés'. Raises ValueError for a block the bank
    does not have."""
    d, seed = scenario.devices, scenario.seed
    rng = lambda purpose: stream(seed, "devices", purpose, block)  # noqa: E731
    plan, own = _block_own_plan(scenario, block)
    n_initial, n_new, n_computers = own.n_initial, own.n_new, own.n_shared + own.n_public
    names, initial_os = choose(rng("os"), d.os, n_initial)
    # A new phone mostly keeps the customer's platform; shared computers are PCs and tablets, public ones Windows PCs.
    previous_os = initial_os[plan.first_phone[plan.phone_change_customer - plan.first_customer]]
    switch = rng("new_os_switch").random(n_new) < 0.15
    new_os = np.where(switch, choose(rng("new_os"), d.os, n_new)[1], previous_os)
    windows = names.index("windows") if "windows" in names else 0
    shared_os = np.where(rng("shared_os").random(own.n_shared) < 0.6, windows,
                         choose(rng("shared_other_os"), d.os, own.n_shared)[1])
    os_index = np.concatenate([initial_os, new_os, shared_os, np.full(own.n_public, windows)])
    tablet = np.zeros(own.total, bool)  # tablets and laptops
    tablet[plan.second_device[plan.second_device >= 0]] = True
    tablet[n_initial + n_new:] = True
    age = np.concatenate([rng("age").integers(d.age_days.min, d.age_days.max + 1, n_initial),
                          rng("new_age").integers(0, 31, n_new),
                          rng("computer_age").integers(d.age_days.min, d.age_days.max + 1, n_computers)])
    start = day_number(scenario.start_date)
    first_seen = np.concatenate([start - rng("seen").integers(0, 366, n_initial), plan.phone_change_day,
                                 start - rng("computer_seen").integers(0, 366, n_computers)])
    return _device_table(scenario, rng, device_numbers(scenario, block, np.arange(own.total)), names, os_index,
                         tablet, age, first_seen, np.ones(own.total))


def fraudster_devices(scenario: Scenario) -> pa.Table:
    """The rings' devices (Android phones and Windows emulators, tampered more often: rings favour them) and the
    fresh devices stealthy fraud uses (ordinary phones: nothing about them is tampered), in the bank plan's order."""
    d, seed = scenario.devices, scenario.seed
    rng = lambda purpose: stream(seed, "devices", purpose)  # noqa: E731
    n_ring, n_burner = n_ring_devices(scenario), scenario.fraud.rings.burners
    names = list(d.os)
    windows = names.index("windows") if "windows" in names else 0
    ring_os = np.where(rng("ring_os").random(n_ring) < 0.7, names.index("android") if "android" in names else 0,
                       windows)
    os_index = np.concatenate([ring_os, choose(rng("burner_os"), d.os, n_burner)[1]])
    age = np.concatenate([rng("ring_age").integers(30, 900, n_ring),
                          rng("burner_age").integers(d.age_days.min, d.age_days.max + 1, n_burner)])
    start = day_number(scenario.start_date)
    first_seen = np.concatenate([start - rng("ring_seen").integers(0, 366, n_ring),
                                 start - rng("burner_seen").integers(0, 366, n_burner)])
    n = n_ring + n_burner
    return _device_table(scenario, rng, device_numbers(scenario, Layout.of(scenario).n_blocks, np.arange(n)), names,
                         os_index, np.zeros(n, bool), age, first_seen,
                         np.concatenate([np.full(n_ring, 5.0), np.ones(n_burner)]))


def _device_table(scenario: Scenario, rng, number: np.ndarray, names: list[str], os_index: np.ndarray,
                  tablet: np.ndarray, age: np.ndarray, first_seen: np.ndarray, risky: np.ndarray) -> pa.Table:
    """The devices table's rows: `risky` multiplies the rates of rooted, VPN and emulator flags."""
    d, n = scenario.devices, len(number)
    by_os = np.array([DEVICE_TYPE_BY_OS.get(name, "unknown") for name in names])[os_index]
    return schemas.DEVICES.build({
        "device_id": col.ids("D", number, 8),
        "device_type": np.where(tablet, np.where(by_os == "desktop", "desktop", "tablet"), by_os),
        "os_type": pa.array(names).take(pa.array(os_index)),
        "device_age_days": age.astype(np.int32),
        "rooted_flag": rng("rooted").random(n) < np.minimum(d.rooted_rate * risky, 1),
        "vpn_flag": rng("vpn").random(n) < np.minimum(d.vpn_rate * risky, 1),
        "emulator_flag": rng("emulator").random(n) < np.minimum(d.emulator_rate * risky, 1),
        "first_seen_date": first_seen.astype("datetime64[D]"),
    })


def by_block(scenario: Scenario, customers: pa.Table, devices: pa.Table, of_block) -> pa.Table:
    """The bank's table as each block's `of_block(scenario, block, its customers, its own devices)`, one block after
    another; `customers` and `devices`: the bank's (each block's own devices one block after another, as `devices`
    lists them)."""
    layout, parts, offset = Layout.of(scenario), [], 0
    for block in range(layout.n_blocks):
        first, end = layout.customer_span(block)
        own = block_own_devices(scenario, block)
        parts.append(of_block(scenario, block, customers.slice(first, end - first), devices.slice(offset, own)))
        offset += own
    return pa.concat_tables(parts)


def device_history(scenario: Scenario, customers: pa.Table, devices: pa.Table) -> pa.Table:
    """The bank's device history: each block's (`device_history_of_block`)."""
    return by_block(scenario, customers, devices, device_history_of_block)


def device_history_of_block(scenario: Scenario, block: int, customers: pa.Table, devices: pa.Table) -> pa.Table:
    """Block `block`'s customers' phones over time, as the bank binds them: a phone is in use from `valid_from` and
    trusted from `trusted_from` until the next one takes over. Tablets, laptops and household phones are never
    bound: the bank sees them as untrusted, like any device it does not know. `customers`: the block's;
    `devices`: the block's own (`devices_of_block`)."""
    plan = _block_own_plan(scenario, block)[0]
    start = day_number(scenario.start_date)
    since = customers["customer_since"].to_numpy().astype("datetime64[D]").astype(np.int64)
    customer = np.concatenate([np.arange(customers.num_rows), plan.phone_change_customer - plan.first_customer])
    device = np.concatenate([plan.first_phone, plan.phone_change_row])
    valid_from = np.concatenate([np.minimum(since, start - 1), plan.phone_change_day])
    trusted = np.concatenate([np.minimum(since, start - 1), plan.phone_trust_day])
    order = np.lexsort((valid_from, customer))
    customer, device, valid_from, trusted = customer[order], device[order], valid_from[order], trusted[order]
    following = np.append(customer[1:] == customer[:-1], False)
    valid_to = np.where(following, np.append(valid_from[1:], 0), NEVER)
    as_date = lambda days: pa.array(days.astype("datetime64[D]"), mask=days == NEVER)  # noqa: E731
    return schemas.DEVICE_HISTORY.build({
        "customer_id": customers["customer_id"].take(pa.array(customer)),
        "device_id": devices["device_id"].take(pa.array(device)),
        "valid_from": as_date(valid_from),
        "valid_to": as_date(valid_to),
        "trusted_from": as_date(trusted),
    })
