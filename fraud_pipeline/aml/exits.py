"""Cross-border exits: criminal money leaves the country in payments each below the cross-border reporting threshold.

`../shared/reference/aml-anchors.md` §8.2 row 8: EFT payments of R5,000–R19,999.99 — below the FIC Act s31
threshold above which a cross-border transfer is reported (IFTR, `aml.cross_border_threshold`) — to people in
neighbouring countries, at least 3 in 30 days. Here the money comes in first, from people at other banks (2–6
transfers over the first days: the proceeds handed over), and then leaves, one payment a day on distinct days
over 1–4 weeks, to a person in one of `aml.cross_border.countries`. Stealthily the amounts are a large payment
home's (R5,000–R12,000), and a migrant worker who sends money home pays it to their own family abroad (the
genuine twin: `life.remittances`, whose larger payments home are R5,000–R19,999). Exits are drawn among active
salary accounts, cross-border customers `cross_border_weight` times as often (their remittances are the cover);
stealthy ones among the customers who send money home.
Every row is made by the genuine code paths; the account's role is `exit`.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from fraud_pipeline.aml.placement import CENTS, Cases, finish, placers, rng_of, transfers_on_case_days
from fraud_pipeline.core.labels import CROSS_BORDER, EXIT
from fraud_pipeline.core.rows import TRANSFER, TRANSFER_IN, concat, make
from fraud_pipeline.core.splits import uneven_shares
from fraud_pipeline.core.timeline import MS_PER_DAY, day_start_ms
from fraud_pipeline.life.cash_out import in_hours
from fraud_pipeline.life.genuine import city_place
from fraud_pipeline.life.payments import outside_parties, transfers_out
from fraud_pipeline.world import spending
from fraud_pipeline.world.build import World


def cross_border_day(world: World, day: date) -> Cases:
    """The block's cross-border exit cases that start on `day`, with all their rows (those of later days the bank
    carries)."""
    c = world.scenario.aml.cross_border
    rng = rng_of(world, day, "cross_border")
    crosser = world.home_country >= 0
    rate = c.cases_per_10k_accounts_month if c.enabled else 0.0
    # a stealthy exit is a migrant worker who sends money home: the payments pass for their larger needs there
    plain = placers(world, day, rng, rate * (1 - c.stealth), np.where(crosser, c.cross_border_weight, 1.0))
    hidden = placers(world, day, lambda purpose: rng(f"stealthy_{purpose}"), rate * c.stealth,
                     (world.family_abroad >= 0).astype(float))
    account = np.r_[plain, hidden]
    n = len(account)
    customer = world.account_customer[account]
    stealth = np.arange(n) >= len(plain)
    # the exits: one a day on distinct days of the case's weeks, from the day after the money is in
    count = rng("payments").integers(c.payments.min, c.payments.max + 1, n)
    span = rng("days").integers(c.days.min, c.days.max + 1, n)
    exit_case, send_ms = transfers_on_case_days(world, day, rng, "exit", span, count, True, c.in_days + 1)
    low = np.where(stealth, c.stealth_amount.min, c.amount.min)[exit_case]
    high = np.where(stealth, c.stealth_amount.max, c.amount.max)[exit_case]
    wanted = rng("amount").uniform(low, high) * CENTS
    family = world.family_abroad[customer]
    foreign = _people_in(world, c.countries)
    stranger = foreign[rng("payee").integers(0, len(foreign), n)] if len(foreign) else np.full(n, -1)
    payee = np.where(stealth & (family >= 0), family, stranger)
    # the proceeds, handed over by people elsewhere in the first days: what leaves and a little more
    sent = np.bincount(exit_case, weights=wanted, minlength=n)
    credits = rng("credits").integers(c.credits.min, c.credits.max + 1, n)
    in_case = np.repeat(np.arange(n), credits)
    share = uneven_shares(rng("in_split"), in_case)
    handed = sent * rng("margin").uniform(1.0, 1.1, n)
    at = day_start_ms(day) + rng("in_day").integers(0, c.in_days + 1, len(in_case)) * MS_PER_DAY
    credit_ms = in_hours(world, rng, "in", at, at, at + MS_PER_DAY - 1, "transfer")
    paid_in = make(len(in_case), account=account[in_case], channel=TRANSFER, kind=TRANSFER_IN, event_ms=credit_ms,
                   cents=spending.typed_amount(rng("in_typed"), np.round(handed[in_case] * share)),
                   payee=outside_parties(world, rng("in_who"), len(in_case), ("individual",)),
                   place=city_place(world, world.home_city[customer[in_case]]))
    out = transfers_out(world, day, rng, "exit", account[exit_case], send_ms, np.round(wanted), payee[exit_case])
    ceiling = np.floor(world.scenario.aml.cross_border_threshold) * CENTS
    out.cents = np.where(out.cents > ceiling, np.floor(wanted / CENTS).clip(max=ceiling / CENTS) * CENTS,
                         out.cents).astype(np.int64)  # typed up past the threshold: the rand below it, as people do
    parameters = [{"payments": int(k), "days": int(d), "credits": int(m), "stealth": bool(x),
                   "to_family": bool(x and f >= 0)} for k, d, m, x, f in zip(count, span, credits, stealth, family)]
    proceeds = np.bincount(in_case, weights=paid_in.cents, minlength=n).astype(np.int64)
    return finish(world, day, rng, CROSS_BORDER, account, stealth, proceeds, parameters, np.r_[in_case, exit_case],
                  concat([paid_in, out]), c, EXIT)


def _people_in(world: World, countries: tuple[str, ...]) -> np.ndarray:
    """Beneficiary rows of individuals in `countries` (ISO codes)."""
    key = ("people_in", countries)
    if key not in world.caches:
        world.caches[key] = np.flatnonzero(np.isin(world.beneficiary_country, countries)
                                           & (world.beneficiary_type == "individual"))
    return world.caches[key]
