"""Which rows of the bank's entity tables each block of customers holds, known from the scenario alone.

A block generates its customers, their accounts and their devices without asking any other block (stage 4b of
`docs/blocks-design.md`): so that the bank's rows can still be numbered densely (customer C…, account A…), the
number of rows a block holds is fixed by the scenario, not by the block's draws. Customers fill blocks of
`population.block_customers` in order (the last may be short); each block holds its customers' first accounts and
its share of the further accounts (`population.accounts` − customers), and its share of the devices in use at the
start (`population.devices`), both cut by its share of the customers (whole numbers, so the shares add up to the
bank's exactly; a block whose share of the devices is none still holds one, `devices.block_device_plan`). Rows are
block-major: block b's accounts follow block b − 1's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fraud_pipeline.scenario import Scenario


def _share(total: int, first: int, end: int, customers: int) -> tuple[int, int]:
    """The rows `first` … `end` − 1 of `customers` customers hold of `total` rows shared by customers: from
    ⌊total × first / customers⌋ to ⌊total × end / customers⌋ (adds up to `total` over any cut)."""
    return total * first // customers, total * end // customers


@dataclass(frozen=True)
class Layout:
    """The bank's blocks: `customers` customers in blocks of `block_customers`, `accounts` accounts and `devices`
    initial devices shared out as the module says."""

    customers: int
    block_customers: int
    accounts: int
    devices: int

    @classmethod
    def of(cls, scenario: Scenario) -> "Layout":
        p = scenario.population
        return cls(p.customers, p.block_customers, p.accounts, p.devices)

    @property
    def n_blocks(self) -> int:
        return max(1, -(-self.customers // self.block_customers))

    def customer_span(self, block: int) -> tuple[int, int]:
        """Block `block`'s customers: the bank's customer numbers `first` … `end` − 1.

        Raises ValueError for a block the bank does not have."""
        if not 0 <= block < self.n_blocks:
            raise ValueError(f"block {block} is not one of the bank's {self.n_blocks} blocks "
                             f"(0 … {self.n_blocks - 1})")
        return block * self.block_customers, min((block + 1) * self.block_customers, self.customers)

    def extra_account_span(self, block: int) -> tuple[int, int]:
        """Block `block`'s share of the accounts beyond each customer's first: their numbers among those accounts."""
        first, end = self.customer_span(block)
        return _share(self.accounts - self.customers, first, end, self.customers)

    def account_span(self, block: int) -> tuple[int, int]:
        """Block `block`'s accounts: the bank's account numbers `first` … `end` − 1 (its customers' first accounts
        and its share of the others)."""
        first, end = self.customer_span(block)
        extra_first, extra_end = self.extra_account_span(block)
        return first + extra_first, end + extra_end

    def device_span(self, block: int) -> tuple[int, int]:
        """Block `block`'s share of the devices in use at the start (phones, tablets, laptops)."""
        first, end = self.customer_span(block)
        return _share(self.devices, first, end, self.customers)

    def customer_spans(self) -> list[tuple[int, int]]:
        """Every block's `customer_span`, in block order."""
        return [self.customer_span(b) for b in range(self.n_blocks)]

    def account_spans(self) -> list[tuple[int, int]]:
        """Every block's `account_span`, in block order."""
        return [self.account_span(b) for b in range(self.n_blocks)]

    def customer_ends(self) -> np.ndarray:
        """One past each block's last customer, in block order."""
        return np.array([end for _, end in self.customer_spans()], np.int64)

    def account_ends(self) -> np.ndarray:
        """One past each block's last account, in block order."""
        return np.array([end for _, end in self.account_spans()], np.int64)


def kept(cache: dict, key, make, limit: int):
    """`cache[key]`, made by `make()` the first time it is asked for. What every block of a bank asks for the same
    (a block's device plan, the takeovers' daily means, the tiers' bounds) is worked out once per process; the
    cache is emptied when it holds `limit` values, so a process that runs many scenarios or blocks stays bounded.
    Keys name the scenario (its `content_hash`): a value is a pure function of it. Values are shared: read-only."""
    if key not in cache:
        if len(cache) >= limit:
            cache.clear()
        cache[key] = make()
    return cache[key]


def blockwise_sum(values: np.ndarray, ends: np.ndarray) -> float:
    """The bank's total of a per-customer or per-account array (block-major; `ends`: one past each block's last
    row): each block's numpy sum, added in block order. A float total depends on the order of its additions; this
    is the order a bank whose blocks each hold only their own rows can reproduce (one partial a block), so the
    bank's totals are the same to the bit however its blocks are computed."""
    total, start = 0.0, 0
    for end in ends:
        total += float(np.sum(values[start:end]))
        start = end
    return total
