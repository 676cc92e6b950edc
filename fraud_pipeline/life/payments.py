"""Money between a customer and parties outside the bank: who those parties are (beneficiary rows of a kind) and
the transfers that pay them — one way for every part of the bank to pay someone out of money that came in."""

from __future__ import annotations

from datetime import date

import numpy as np

from fraud_pipeline.core.rows import NONE, TRANSFER, TRANSFER_OUT, Rows, make
from fraud_pipeline.life.genuine import city_place, digital, session_city
from fraud_pipeline.world import spending
from fraud_pipeline.world.build import World
from fraud_pipeline.world.devices import day_number


def transfers_out(world: World, day: date, rng, purpose: str, account: np.ndarray, event_ms: np.ndarray,
                  cents: np.ndarray, payee: np.ndarray, counterparty: np.ndarray | None = None,
                  typed: bool = True) -> Rows:
    """Transfers from `account` to the parties `payee` outside the bank (or, where `payee` is NONE, to the bank's
    accounts `counterparty`, which settle overnight) at `event_ms`, of `cents` as people type amounts (as given
    unless `typed`), from the customer's device and where their session is (drawn on `day`: streams
    `purpose`_device and _typed). One way for a customer to pay someone out of money that came in: one-offs spent,
    suppliers paid, laundering moved on (`aml.placement`, `aml.networks`)."""
    customer = world.account_customer[account]
    trip = world.trips.on(day_number(day), world.n_customers)
    device, ip = digital(world, rng(f"{purpose}_device"), day, customer, trip)
    return make(len(account), account=account, channel=TRANSFER, kind=TRANSFER_OUT, event_ms=event_ms,
                cents=spending.typed_amount(rng(f"{purpose}_typed"), cents) if typed else np.asarray(cents, np.int64),
                payee=payee, counterparty=NONE if counterparty is None else counterparty,
                place=city_place(world, session_city(world, customer, trip)), device=device, ip=ip, card=True)


def outside_parties(world: World, rng: np.random.Generator, n: int, kinds: tuple[str, ...]) -> np.ndarray:
    """`n` parties outside the bank: random beneficiaries of the types `kinds`."""
    pool = beneficiaries_of(world, kinds)
    return pool[rng.integers(0, len(pool), n)] if len(pool) else np.full(n, NONE)


def individuals_or_businesses(world: World, rng, n: int, businesses: float | np.ndarray) -> np.ndarray:
    """`n` parties outside the bank, each a business (a merchant-type beneficiary) with chance `businesses`, else an
    individual. Draws the streams business, firm and person of `rng`."""
    business = rng("business").random(n) < businesses
    return np.where(business, outside_parties(world, rng("firm"), n, ("merchant",)),
                    outside_parties(world, rng("person"), n, ("individual",)))


def beneficiaries_of(world: World, kinds: tuple[str, ...]) -> np.ndarray:
    """The beneficiary rows of the types `kinds`; every row in a world too small to have one of them (a tiny
    scenario's few payees), so a payment out always has someone to go to."""
    key = ("beneficiaries_of", kinds)
    if key not in world.caches:
        rows = np.flatnonzero(np.isin(world.beneficiary_type, kinds))
        world.caches[key] = rows if len(rows) else np.arange(len(world.beneficiary_type))
    return world.caches[key]
