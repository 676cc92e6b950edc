"""High-risk flows: the proceeds of corruption on a politically exposed person's account, paid out to offshore
companies and crypto exchanges.

Issue 24's "flows to high-risk jurisdictions, crypto and offshore payees and on PEP accounts" (aml-anchors §7: FATF's
2021 mutual evaluation names corruption and bribery among South Africa's main proceeds-generating crimes). 1–4
"consulting fees" from companies at other banks (a contractor's kickback for a tender), R50,000–R500,000 each
(log-uniform, typed as payments in are), come in on distinct business days within the first 10 days; then
60–95 % of it leaves, one payment a day on distinct days over 1–4 weeks from the day after the last fee, to offshore
companies (in an offshore centre) and crypto exchanges (30 %). Stealthily the fees are R10,000–R60,000 and the money
goes to the holder's own saved crypto wallet or offshore payee where they have one (the genuine twin:
`life.lump_sums`). Holders are active salary accounts, PEPs `pep_weight` times as often (nominees and relatives
hold such money too). Every row is made by the genuine code paths; the account's role is `exit`.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from fraud_pipeline.aml.placement import CENTS, Cases, case_days, finish, placers, rng_of
from fraud_pipeline.core.labels import EXIT, HIGH_RISK
from fraud_pipeline.core.rows import TRANSFER, TRANSFER_IN, concat, make
from fraud_pipeline.core.splits import uneven_shares
from fraud_pipeline.core.timeline import MS_PER_DAY, day_start_ms
from fraud_pipeline.life.cash_out import in_hours
from fraud_pipeline.life.genuine import city_place
from fraud_pipeline.life.payments import outside_parties, transfers_out
from fraud_pipeline.life.lump_sums import risky_payee
from fraud_pipeline.world import spending
from fraud_pipeline.world.build import World


def high_risk_day(world: World, day: date) -> Cases:
    """The block's high-risk cases that start on `day`, with all their rows (those of later days the bank
    carries)."""
    c = world.scenario.aml.high_risk
    rng = rng_of(world, day, "high_risk")
    account = placers(world, day, rng, c.cases_per_10k_accounts_month if c.enabled else 0.0,
                      np.where(world.pep, c.pep_weight, 1.0))
    n = len(account)
    customer = world.account_customer[account]
    stealth = rng("stealth").random(n) < c.stealth
    # the fees: from companies elsewhere, on distinct business days of the first `in_days`
    credits = rng("credits").integers(c.credits.min, c.credits.max + 1, n)
    in_case = np.repeat(np.arange(n), credits)
    in_day = case_days(world, day, rng("in_day"), np.full(n, c.in_days + 1), credits, np.zeros(n, bool))
    on = day_start_ms(day) + in_day * MS_PER_DAY
    low = np.where(stealth, c.stealth_amount.min, c.amount.min)[in_case]
    high = np.where(stealth, c.stealth_amount.max, c.amount.max)[in_case]
    # typed as any payment in is (to the cent, as invoices are, they stood out among whole-rand credits)
    fees = spending.typed_amount(rng("typed"), np.exp(rng("amount").uniform(np.log(low), np.log(high))) * CENTS)
    paid_in = make(len(in_case), account=account[in_case], channel=TRANSFER, kind=TRANSFER_IN,
                   event_ms=in_hours(world, rng, "in", on, on, on + MS_PER_DAY - 1, "transfer"), cents=fees,
                   payee=outside_parties(world, rng("in_who"), len(in_case), ("merchant",)),
                   place=city_place(world, world.home_city[customer[in_case]]))
    received = np.bincount(in_case, weights=fees, minlength=n)
    last = np.zeros(n, np.int64)
    np.maximum.at(last, in_case, in_day)
    # then out, one payment a day from the day after the last fee, to offshore companies and crypto exchanges
    payments = rng("payments").integers(c.payments.min, c.payments.max + 1, n)
    span = rng("days").integers(c.days.min, c.days.max + 1, n)
    out_case = np.repeat(np.arange(n), payments)
    out_day = case_days(world, day, rng("out_day"), span, payments, np.ones(n, bool)) + (last + 1)[out_case]
    at = day_start_ms(day) + out_day * MS_PER_DAY
    share = uneven_shares(rng("out_split"), out_case)
    part = rng("part").uniform(c.part.min, c.part.max, n)
    own = risky_payee(world)[account]
    elsewhere = np.where(rng("out_kind").random(len(out_case)) < c.crypto_share,
                         outside_parties(world, rng("crypto"), len(out_case), ("crypto",)),
                         outside_parties(world, rng("offshore"), len(out_case), ("offshore",)))
    payee = np.where((stealth & (own >= 0))[out_case], own[out_case], elsewhere)
    out = transfers_out(world, day, rng, "out", account[out_case],
                        in_hours(world, rng, "out", at, at, at + MS_PER_DAY - 1, "transfer"),
                        np.round(received[out_case] * part[out_case] * share), payee)
    pep = world.pep[customer]
    parameters = [{"credits": int(k), "payments": int(p), "days": int(d), "stealth": bool(x), "pep": bool(e),
                   "own_payee": bool(x and o >= 0)}
                  for k, p, d, x, e, o in zip(credits, payments, span, stealth, pep, own)]
    return finish(world, day, rng, HIGH_RISK, account, stealth, received.astype(np.int64), parameters,
                  np.r_[in_case, out_case], concat([paid_in, out]), c, EXIT)
