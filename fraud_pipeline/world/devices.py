"""Devices people bank from, and how that changes: new phones, second devices, households, fraud rings.

The plan is drawn once from the customer streams for the whole horizon (start to `horizon_end`):
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
fraud uses, and a ring works one block's stolen cards a day (`fraud.scenarios.rings_on`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pyarrow as pa

from fraud_pipeline.core import columns as col, schemas
from fraud_pipeline.core.streams import choose, stream
from fraud_pipeline.scenario import Scenario

DEVICE_TYPE_BY_OS = {"android": "mobile", "ios": "mobile", "windows": "desktop"}
ID_SPACE = 10**8
NEVER = np.iinfo(np.int64).max  # a phone still in use at the horizon


@dataclass(frozen=True)
class DevicePlan:
    """Device rows and each customer's devices over the horizon; days are numbers since 1970-01-01."""

    n_initial: int
    n_ring: int
    n_burner: int  # fraudsters' fresh devices (a new phone, a reset fingerprint): one or two victims each
    phone_change_customer: np.ndarray  # one entry per new phone, in device-row order after the initial devices
    phone_change_day: np.ndarray
    phone_trust_day: np.ndarray  # when the new phone becomes trusted
    first_phone: np.ndarray  # per customer: device row of the phone at the start
    second_device: np.ndarray  # per customer: device row of a tablet/laptop, -1 for none
    household_phone_of: np.ndarray  # per customer: the customer whose phone they sometimes use, -1 for none
    shared_computer: np.ndarray  # per customer: device row of a household or workplace computer of 3–6 users, or -1
    public_computer: np.ndarray  # per customer: device row of the internet café or library computer they use, or -1
    n_shared: int
    n_public: int
    block_customers: int  # customers per block: what the shared devices and the fraudsters' devices are cut by
    ring_replicas: int  # copies of the rings' devices: one, or enough for every block to have a ring each day
    # A block's plan (`of_customers`) holds its customers' rows only: the first of them, the bank's counts, and the
    # device rows of the new phones it lists. The bank's plan: 0, -1, -1 (its own lengths), None (n_initial + i).
    first_customer: int = 0
    bank_customers: int = -1
    bank_changes: int = -1
    change_rows: np.ndarray | None = None

    @property
    def n_customers(self) -> int:
        """The bank's customers (a block's plan holds some of them)."""
        return self.bank_customers if self.bank_customers >= 0 else len(self.first_phone)

    @property
    def n_blocks(self) -> int:
        return max(1, -(-self.n_customers // self.block_customers))

    @property
    def n_devices(self) -> int:
        return self.first_shared + self.n_shared + self.n_public + self.n_ring + self.n_burner

    @property
    def first_shared(self) -> int:
        """Device rows: initial devices, new phones, shared computers, public computers, ring devices, burners."""
        return self.n_initial + (self.bank_changes if self.bank_changes >= 0 else len(self.phone_change_day))

    def of_customers(self, first: int, end: int) -> "DevicePlan":
        """The plan of the bank's customers `first` … `end` − 1 (a block's): their rows of the per-customer arrays and
        their new phones, device rows numbered as the bank's. Every device a block's customers use is theirs or one
        of their block's (households, shared and public computers), so a block needs no other customer's rows: the
        bank's are 50 bytes a customer, too many for every worker to hold.

        Raises ValueError on a block's plan (it is cut from the bank's)."""
        if self.change_rows is not None:
            raise ValueError(f"a block's device plan (customers from {self.first_customer}) cannot be cut again")
        mine = np.flatnonzero((self.phone_change_customer >= first) & (self.phone_change_customer < end))
        return replace(self, phone_change_customer=self.phone_change_customer[mine],
                       phone_change_day=self.phone_change_day[mine], phone_trust_day=self.phone_trust_day[mine],
                       first_phone=self.first_phone[first:end], second_device=self.second_device[first:end],
                       household_phone_of=self.household_phone_of[first:end],
                       shared_computer=self.shared_computer[first:end], public_computer=self.public_computer[first:end],
                       first_customer=first, bank_customers=self.n_customers, bank_changes=len(self.phone_change_day),
                       change_rows=self.n_initial + mine)

    @property
    def ring_devices(self) -> np.ndarray:
        first = self.n_devices - self.n_burner - self.n_ring
        return np.arange(first, first + self.n_ring)

    @property
    def burner_devices(self) -> np.ndarray:
        return np.arange(self.n_devices - self.n_burner, self.n_devices)

    def block_burners(self, block: int) -> np.ndarray:
        """The fresh devices block `block` uses: its share of the burners, by its share of the customers (the
        bank's burners are cut into consecutive runs, so a burner serves one block; with fewer burners than
        blocks, a block whose run would be empty borrows its neighbour's last)."""
        customers = self.n_customers
        first, end = block * self.block_customers, min((block + 1) * self.block_customers, customers)
        low, high = self.n_burner * first // customers, self.n_burner * end // customers
        low = min(low, self.n_burner - 1) if high == low else low
        return self.burner_devices[low:max(high, low + 1)]

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
        change = switched[order][last_of_owner]
        latest[owner[order][last_of_owner]] = self.n_initial + change if self.change_rows is None else (
            self.change_rows[change])
        return latest


def day_number(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def device_plan(scenario: Scenario, customer_count: int) -> DevicePlan:
    d, seed = scenario.devices, scenario.seed
    rng = lambda purpose: stream(seed, "device_plan", purpose)  # noqa: E731
    n = scenario.population.devices
    size = scenario.population.block_customers
    n_blocks = max(1, -(-customer_count // size))
    order = rng("phones").permutation(n)
    phones = min(customer_count, n)
    first_phone = _first_phones(rng, order[:phones], customer_count, size)
    spare = order[phones:]
    wants_second = np.flatnonzero(rng("second").random(customer_count) < d.second_device_share)[:len(spare)]
    second = np.full(customer_count, -1)
    second[wants_second] = spare[:len(wants_second)]
    household = np.full(customer_count, -1)
    shares_phone = np.flatnonzero(rng("household").random(customer_count) < d.household_share)
    # a household member: another customer of the same block
    first_of_block = shares_phone // size * size
    block_size = np.minimum(first_of_block + size, customer_count) - first_of_block
    step = 1 + rng("household_member").integers(0, np.maximum(block_size - 1, 1))
    other = first_of_block + (shares_phone - first_of_block + step) % block_size
    household[shares_phone] = np.where(block_size > 1, other, -1)

    first, last = day_number(scenario.start_date), day_number(scenario.horizon_end)
    years = (last - first + 1) / 365.25
    changes = rng("changes").poisson(years / d.phone_change_years, customer_count)
    customer = np.repeat(np.arange(customer_count), changes)
    change_day = first + rng("change_day").integers(0, last - first + 1, len(customer))
    by_day = np.lexsort((customer, change_day))
    customer, change_day = customer[by_day], change_day[by_day]
    trust_days = rng("trust").integers(d.new_phone_trust_days.min, d.new_phone_trust_days.max + 1, len(customer))
    rings = scenario.fraud.rings
    # a ring works for one block a day: with more blocks than rings, each ring has copies of its devices
    replicas = -(-n_blocks // rings.count)
    n_ring = rings.count * rings.devices.max * replicas
    first_shared = n + len(customer)
    shared, n_shared = _shared_computers(rng, d.shared_computers, customer_count, first_shared, size)
    public, n_public = _public_computers(rng, d.public_computers, customer_count, first_shared + n_shared, size)
    return DevicePlan(n, n_ring, rings.burners, customer, change_day, change_day + trust_days, first_phone, second,
                      household, shared, public, n_shared, n_public, size, replicas)


def _first_phones(rng, phones: np.ndarray, customer_count: int, size: int) -> np.ndarray:
    """Each customer's phone at the start: their own while there are devices (`phones`, in customer order), else
    a phone of a customer of their own block. With fewer devices than customers, each block owns its share of
    the phones (its first customers); a block left with none (fewer devices than blocks) shares the bank's."""
    if len(phones) >= customer_count:
        return phones[:customer_count]
    customer = np.arange(customer_count)
    block = customer // size
    ends = np.minimum((np.arange(block[-1] + 1) + 1) * size, customer_count)
    owned_by_end = len(phones) * ends // customer_count  # owners up to each block's end
    owned_before = np.concatenate([[0], owned_by_end[:-1]])
    owns = customer - block * size < owned_by_end[block] - owned_before[block]
    found = np.empty(customer_count, np.int64)
    found[owns] = phones  # owners in customer order: exactly len(phones) of them
    sharer = np.flatnonzero(~owns)
    u = rng("phone_share").random(len(sharer))
    count = owned_by_end[block[sharer]] - owned_before[block[sharer]]
    rank = np.where(count > 0, owned_before[block[sharer]] + (u * count).astype(np.int64),
                    (u * len(phones)).astype(np.int64))
    found[sharer] = phones[rank]
    return found


def _shared_computers(rng, config, customer_count: int, first_row: int, size: int) -> tuple[np.ndarray, int]:
    """Household and workplace computers: `config.share` of customers, in groups of `config.users` (min–max) users
    of one block each, one computer per group. A block's last users, too few for a group of `users.min`, join the
    block's groups before them, one each (a group then has up to `users.max` + 1). Returns per customer its
    computer's device row (-1 for none) and the count."""
    users = np.flatnonzero(rng("shared").random(customer_count) < config.share)
    users = users[rng("shared_order").permutation(len(users))]
    users = users[np.argsort(users // size, kind="stable")]  # block by block, in random order within each
    per_block = np.bincount(users // size)
    sizes_rng = rng("shared_sizes")
    found = np.full(customer_count, -1)
    count, start = 0, 0
    for block_users in per_block[per_block > 0]:
        mine = users[start:start + block_users]
        start += block_users
        sizes = sizes_rng.integers(config.users.min, config.users.max + 1, block_users // config.users.min + 1)
        ends = np.cumsum(sizes)
        group = np.searchsorted(ends, np.arange(block_users), side="right")
        last = group[-1]
        left = block_users - (ends[last - 1] if last else 0)  # users of the last, perhaps partial, group
        if left < config.users.min and last > 0:
            group[-left:] = last - 1 - np.arange(left) % last
        found[mine] = first_row + count + group
        count += int(group.max()) + 1
    return found, count


def _public_computers(rng, config, customer_count: int, first_row: int, size: int) -> tuple[np.ndarray, int]:
    """Internet café and library computers: `config.share` of customers each use one of them, about
    `users_per_computer` customers of one block per computer (a block with fewer users has one computer). Returns
    per customer the device row (-1 for none) and the count."""
    users = np.flatnonzero(rng("public").random(customer_count) < config.share)
    block = users // size
    per_block = np.bincount(block)
    computers = np.where(per_block > 0, np.maximum(np.round(per_block / config.users_per_computer), 1), 0).astype(
        np.int64)
    first_of_block = np.concatenate([[0], np.cumsum(computers)[:-1]])
    found = np.full(customer_count, -1)
    pick = (rng("public_pick").random(len(users)) * computers[block]).astype(np.int64)
    found[users] = first_row + first_of_block[block] + pick
    return found, int(computers.sum())


def devices(scenario: Scenario, customers: pa.Table) -> pa.Table:
    """Every device: those in use at the start, the phones customers buy later, the fraud rings' own, and the
    fresh devices stealthy fraud uses (ordinary phones: nothing about them is tampered)."""
    d, seed = scenario.devices, scenario.seed
    rng = lambda purpose: stream(seed, "devices", purpose)  # noqa: E731
    plan = device_plan(scenario, customers.num_rows)
    n_initial, n_new, n_ring, n_burner = plan.n_initial, len(plan.phone_change_day), plan.n_ring, plan.n_burner
    n_computers = plan.n_shared + plan.n_public
    n = plan.n_devices
    names, initial_os = choose(rng("os"), d.os, n_initial)
    # A new phone mostly keeps the customer's platform; ring devices are Android phones and Windows emulators;
    # shared computers are PCs and tablets, public ones Windows PCs.
    previous_os = initial_os[plan.first_phone[plan.phone_change_customer]]
    switch = rng("new_os_switch").random(n_new) < 0.15
    new_os = np.where(switch, choose(rng("new_os"), d.os, n_new)[1], previous_os)
    windows = names.index("windows") if "windows" in names else 0
    ring_os = np.where(rng("ring_os").random(n_ring) < 0.7, names.index("android") if "android" in names else 0,
                       windows)
    shared_os = np.where(rng("shared_os").random(plan.n_shared) < 0.6, windows,
                         choose(rng("shared_other_os"), d.os, plan.n_shared)[1])
    os_index = np.concatenate([initial_os, new_os, shared_os, np.full(plan.n_public, windows), ring_os,
                               choose(rng("burner_os"), d.os, n_burner)[1]])
    kind = np.zeros(n, bool)  # tablets and laptops
    kind[plan.second_device[plan.second_device >= 0]] = True
    kind[plan.first_shared:plan.first_shared + n_computers] = True
    by_os = np.array([DEVICE_TYPE_BY_OS.get(name, "unknown") for name in names])[os_index]
    device_type = np.where(kind, np.where(by_os == "desktop", "desktop", "tablet"), by_os)
    age = np.concatenate([rng("age").integers(d.age_days.min, d.age_days.max + 1, n_initial),
                          rng("new_age").integers(0, 31, n_new),
                          rng("computer_age").integers(d.age_days.min, d.age_days.max + 1, n_computers),
                          rng("ring_age").integers(30, 900, n_ring),
                          rng("burner_age").integers(d.age_days.min, d.age_days.max + 1, n_burner)])
    start = day_number(scenario.start_date)
    first_seen = np.concatenate([start - rng("seen").integers(0, 366, n_initial), plan.phone_change_day,
                                 start - rng("computer_seen").integers(0, 366, n_computers),
                                 start - rng("ring_seen").integers(0, 366, n_ring),
                                 start - rng("burner_seen").integers(0, 366, n_burner)])
    risky = np.concatenate([np.ones(n_initial + n_new + n_computers), np.full(n_ring, 5.0), np.ones(n_burner)])
    # rings favour tampered devices
    return schemas.DEVICES.build({
        "device_id": col.ids("D", rng("id").choice(ID_SPACE, size=n, replace=False), 8),
        "device_type": device_type,
        "os_type": pa.array(names).take(pa.array(os_index)),
        "device_age_days": age.astype(np.int32),
        "rooted_flag": rng("rooted").random(n) < np.minimum(d.rooted_rate * risky, 1),
        "vpn_flag": rng("vpn").random(n) < np.minimum(d.vpn_rate * risky, 1),
        "emulator_flag": rng("emulator").random(n) < np.minimum(d.emulator_rate * risky, 1),
        "first_seen_date": first_seen.astype("datetime64[D]"),
    })


def device_history(scenario: Scenario, customers: pa.Table, devices: pa.Table) -> pa.Table:
    """Each customer's phones over time, as the bank binds them: a phone is in use from `valid_from` and trusted
    from `trusted_from` until the next one takes over. Tablets, laptops and household phones are never bound:
    the bank sees them as untrusted, like any device it does not know."""
    plan = device_plan(scenario, customers.num_rows)
    c = customers.num_rows
    start = day_number(scenario.start_date)
    since = customers["customer_since"].to_numpy().astype("datetime64[D]").astype(np.int64)
    customer = np.concatenate([np.arange(c), plan.phone_change_customer])
    device = np.concatenate([plan.first_phone, plan.n_initial + np.arange(len(plan.phone_change_day))])
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
