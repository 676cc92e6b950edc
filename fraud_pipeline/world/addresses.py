"""The bank's IP addresses, in the documentation ranges so none is anyone's (`core.reserved`): a home per customer,
the shared pools (mobile carriers, VPN exits, abroad, the rings'), a computer's each. Rows are numbered as the bank
numbers them, and each address is a keyed function of what it belongs to, so a block names its own without the
bank's."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core import keys
from fraud_pipeline.core.reserved import DOCUMENTATION_IPV4_HOSTS
from fraud_pipeline.core.streams import stream
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.world.devices import DevicePlan
from fraud_pipeline.world.layout import Layout

MOBILE_IPS = 400  # carrier-grade NAT addresses shared by many phones (assumption)
VPN_IPS = 60  # exit addresses of the VPN services honest users and fraudsters share
assert MOBILE_IPS + VPN_IPS <= len(DOCUMENTATION_IPV4_HOSTS)  # both pools fit RFC 5737's 762 hosts
IPS_PER_DESTINATION = 40


def addresses(scenario: Scenario, n_customers: int, plan: DevicePlan):
    """IP addresses: a home address per customer (household members share it), a pool of mobile carrier
    addresses shared by many phones, VPN exits, pools abroad per destination, the fraud rings' own, and one per
    shared or public computer — all in the documentation ranges, so none is anyone's (fraud_pipeline.core.reserved):
    the shared pools in RFC 5737's IPv4 blocks, the others each a /64 of their own in RFC 3849's 2001:db8::/32, with
    a random interface identifier. Each address is a keyed function of what it belongs to (`address_numbers`), so
    a block names its customers' and computers' addresses without the bank's (`address_text`)."""
    destinations = len(scenario.geography.destinations)
    rings = scenario.fraud.rings
    n_ring = rings.count * rings.ips.max
    n_foreign = destinations * IPS_PER_DESTINATION
    numbers = address_numbers(scenario, np.arange(n_customers), np.arange(n_foreign + n_ring),
                              *_computer_blocks(plan))
    own = _ipv6_addresses(scenario.seed, numbers)
    text = pa.concat_arrays([own.slice(0, n_customers), pa.array(_shared_ipv4(scenario), pa.string()),
                             own.slice(n_customers)])
    return (text, *address_rows(scenario, plan))


def _shared_ipv4(scenario: Scenario) -> np.ndarray:
    """The mobile carriers' and VPN exits' addresses (RFC 5737 hosts, a keyed choice)."""
    ipv4 = stream(scenario.seed, "world", "ip", "ipv4").permutation(np.array(DOCUMENTATION_IPV4_HOSTS))
    return ipv4[:MOBILE_IPS + VPN_IPS]


def address_rows(scenario: Scenario, plan: DevicePlan):
    """The IP rows, as the bank numbers them, of the plan's customers' homes (a household member's is the phone
    owner's) and of the pools and computers every block knows: homes (one per customer), mobile carriers, VPN exits,
    the pools abroad, the rings', then the computers (`plan.computer_rows` order)."""
    n_customers = plan.n_customers
    destinations = len(scenario.geography.destinations)
    rings = scenario.fraud.rings
    n_ring = rings.count * rings.ips.max
    n_foreign = destinations * IPS_PER_DESTINATION
    home = plan.first_customer + np.arange(len(plan.first_phone))
    household = np.flatnonzero(plan.household_phone_of >= 0)
    home[household] = plan.household_phone_of[household]
    mobile = n_customers + np.arange(MOBILE_IPS)
    vpn = n_customers + MOBILE_IPS + np.arange(VPN_IPS)
    first_foreign = n_customers + MOBILE_IPS + VPN_IPS
    foreign = [first_foreign + d * IPS_PER_DESTINATION + np.arange(IPS_PER_DESTINATION) for d in range(destinations)]
    ring = (first_foreign + n_foreign + np.arange(n_ring)).reshape(rings.count, rings.ips.max)
    computers = first_foreign + n_foreign + n_ring + np.arange(len(plan.computer_rows))
    return home, mobile, vpn, foreign, ring, computers


def address_text(scenario: Scenario, rows: np.ndarray, plan: DevicePlan) -> pa.Array:
    """The addresses of IP rows `rows` (the bank's numbering, `_address_rows`), worked out from the rows alone and
    the bank's computers (`plan.computer_block`): what the bank's `ip_address` holds at those rows."""
    rows = np.asarray(rows, np.int64)
    n_customers = plan.n_customers
    n_shared = MOBILE_IPS + VPN_IPS
    shared = (rows >= n_customers) & (rows < n_customers + n_shared)
    own = rows[~shared]
    first_computer = n_customers + n_shared + len(scenario.geography.destinations) * IPS_PER_DESTINATION + (
        scenario.fraud.rings.count * scenario.fraud.rings.ips.max)
    computer = own >= first_computer
    k = own[computer] - first_computer
    block, within = (b[k] for b in _computer_blocks(plan))
    numbers = np.where(own < n_customers, own, own - n_shared)  # homes; the pools abroad and the rings'
    numbers[computer] = address_numbers(scenario, np.zeros(0, np.int64), np.zeros(0, np.int64), block, within)
    text = pa.concat_arrays([_ipv6_addresses(scenario.seed, numbers),
                             pa.array(_shared_ipv4(scenario)[rows[shared] - n_customers], pa.string())])
    where = np.empty(len(rows), np.int64)
    where[~shared] = np.arange(len(own))
    where[shared] = len(own) + np.arange(int(shared.sum()))
    return text.take(pa.array(where))


def _computer_blocks(plan: DevicePlan) -> tuple[np.ndarray, np.ndarray]:
    """Per computer of the bank's plan (`computer_rows` order): its block and its number among the block's
    computers (computers are block-major)."""
    block = plan.computer_block
    return block, np.arange(len(block)) - np.searchsorted(block, block)


def address_numbers(scenario: Scenario, customer: np.ndarray, pool: np.ndarray, computer_block: np.ndarray,
                    computer: np.ndarray) -> np.ndarray:
    """Distinct numbers for the addresses of /64s of their own: customer c's home is c; the pools abroad and the
    rings' follow the customers; computer k of block b is after those, at k × blocks + b."""
    customers = scenario.population.customers
    blocks = Layout.of(scenario).n_blocks
    pools = len(scenario.geography.destinations) * IPS_PER_DESTINATION + scenario.fraud.rings.count * (
        scenario.fraud.rings.ips.max)
    return np.concatenate([np.asarray(customer, np.int64), customers + np.asarray(pool, np.int64),
                           customers + pools + np.asarray(computer, np.int64) * blocks + computer_block])


@lru_cache(maxsize=1)
def _hex_groups() -> np.ndarray:
    """Every 16-bit group as IPv6 text writes it (lower case, no leading zeros): a 65,536-entry lookup."""
    return np.array([format(i, "x") for i in range(1 << 16)])


def _ipv6_addresses(seed: int, numbers: np.ndarray) -> pa.Array:
    """The addresses in 2001:db8::/32 of distinct `numbers` (`address_numbers`): a distinct /64 each (its two groups
    after the prefix, a keyed bijection of the number) and an interface identifier hashed from it. No group is zero,
    so the text is already RFC 5952's canonical form (nothing to compress). Raises ValueError past 65,535² numbers."""
    span = (1 << 16) - 1  # groups 1..ffff
    network = keys.permute(keys.label_key(seed, "ipv6_networks"), numbers, span * span)
    interface = keys.hashed(keys.label_key(seed, "ipv6_interfaces"), numbers)
    groups = [network // span + 1, network % span + 1,
              *((interface >> np.uint64(16 * i)) % np.uint64(span) + np.uint64(1) for i in range(4))]
    hexes = _hex_groups()
    return pc.binary_join_element_wise("2001", "db8", *(pa.array(hexes[np.asarray(g, np.int64)]) for g in groups), ":")
