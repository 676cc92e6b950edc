"""Accounts opened to launder: a new account serves as a mule within days of opening, for weeks, then falls silent.

`../shared/reference/aml-anchors.md` §8.2 row 10 (part of row 2): an account opened with a borrowed or sold identity
— here a customer of ours, recruited, opens a further account (`accounts.opening_later`) and hands it over —
receives its first victims' money within 7 days, is used for 2–6 weeks, then abandoned. Of the debit accounts that
open on the day and are not opened for a genuine purpose (below), `aml.new_account.share_of_openings` are opened for
this, holders of the mule profile (`aml.mule.recruited`) likelier — drawn in one lottery with the accounts opened to
take orders on (`world.openings`), so both lean alike and the profile does not tell them apart. Each case is 3–6
waves (stealthily 2–3), the first `first_days` after the opening, the last `used_days` after the first, the others
on distinct days between; each wave is a mule case's: victims at other banks pay within hours (`mules.victims_pay`),
and all but the mule's cut leaves within its hours in notes and transfers (`mules.passed_on`), 80 % of the transfers
to the case's own 1–3 parties (`next_layer_kept`: the handler's accounts and wallet), as a trader pays the same
suppliers. Its genuine twins: the other accounts opened during the run — a new savings account funded by the salary
account, a new credit card, an account opened for a side hustle, which strangers pay
(`inflows.side_hustle.opened_for`), one a family opens to collect a funeral's money, paid by relatives within days
and emptied within the week (`inflows.funeral.opened_for`), and one a trader opens to take orders on, prepaid by
strangers in rounds days apart and passed on to the supplier within hours each time, for a few weeks
(`inflows.orders.opened_for`, `life.orders`: the closest) — and the mules of older accounts. The account's role is
`mule`.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from fraud_pipeline.aml.mules import next_layer, passed_on, victims_pay
from fraud_pipeline.aml.placement import Cases, finish, rng_of
from fraud_pipeline.core.columns import positions
from fraud_pipeline.core.labels import MULE, NEW_ACCOUNT
from fraud_pipeline.core.rows import concat
from fraud_pipeline.core.timeline import MS_PER_DAY, day_start_ms, times_in_hours
from fraud_pipeline.life.genuine import receives
from fraud_pipeline.world.build import World
from fraud_pipeline.world.devices import day_number
from fraud_pipeline.world.openings import opened_for


def new_account_day(world: World, day: date) -> Cases:
    """The block's cases of accounts opened today to launder, with all their rows (those of later days the bank
    carries): the debit accounts opening today for laundering (`world.openings.opened_for`: drawn in one lottery
    with the accounts opened to take orders on, holders of the mule profile likelier) whose holder is active. Its
    waves' money goes on to the case's own 1–3 parties (`next_layer_kept` of it), else to new ones."""
    s = world.scenario
    c, m = s.aml.new_account, s.aml.mule
    rng = rng_of(world, day, "new_account")
    account = np.flatnonzero(opened_for(world, "laundering") & (world.opened_day == day_number(day))
                             & receives(world, day))
    n = len(account)
    stealth = rng("stealth").random(n) < c.stealth
    waves = np.where(stealth, rng("stealth_waves").integers(c.stealth_waves.min, c.stealth_waves.max + 1, n),
                     rng("waves").integers(c.waves.min, c.waves.max + 1, n))
    # the first wave `first_days` after the opening, the last `used_days` after it, the others on distinct days
    # between (a random order of the days 1..used−1, its first waves−2)
    wave_case = np.repeat(np.arange(n), waves)
    k = positions(waves)
    first = rng("first_days").integers(c.first_days.min, c.first_days.max + 1, n)
    used = rng("used_days").integers(c.used_days.min, c.used_days.max + 1, n)
    days_between = max(int(used.max(initial=2)) - 1, 1)
    keys = rng("between").random((n, days_between))
    keys[np.arange(1, days_between + 1)[None, :] >= used[:, None]] = np.inf  # only the days before the last
    between = np.argsort(keys, axis=1) + 1
    middle = between[wave_case, np.clip(k - 1, 0, days_between - 1)]
    offset = np.where(k == 0, 0, np.where(k == waves[wave_case] - 1, used[wave_case], middle))
    wave_day = first[wave_case] + offset[np.lexsort((offset, wave_case))]  # in order within each case
    start = times_in_hours(rng("start"), len(wave_case), 0, s.card_transactions.hourly["transfer"],
                           day_start_ms(day)) + wave_day * MS_PER_DAY
    mule = account[wave_case]
    senders, credit_wave, credit_ms, cents, credits = victims_pay(world, rng, mule, stealth[wave_case], start)
    received = np.bincount(credit_wave, weights=cents, minlength=len(wave_case))
    last = np.zeros(len(wave_case), np.int64)
    np.maximum.at(last, credit_wave, credit_ms)
    # the handler's own parties for the money passed on, the same every wave, but for `next_layer_kept`
    kept = next_layer(world, lambda p: rng(f"kept_{p}"), n * m.transfers.max).reshape(n, m.transfers.max)

    def to_layer(sending: np.ndarray) -> np.ndarray:
        nth = positions(np.bincount(sending, minlength=len(wave_case)))  # each transfer's place in its wave
        new = rng("new_layer").random(len(sending)) >= c.next_layer_kept
        return np.where(new, next_layer(world, lambda p: rng(f"new_{p}"), len(sending)), kept[wave_case[sending], nth])

    out, out_wave, passed = passed_on(world, day, rng, mule, stealth[wave_case], received, last, to_layer,
                                      card=wave_case)  # one card, one daily limit, every wave
    proceeds = np.bincount(wave_case, weights=received, minlength=n)
    kept = proceeds - np.bincount(wave_case, weights=passed, minlength=n)
    last_day = np.zeros(n, np.int64)
    np.maximum.at(last_day, wave_case, wave_day)
    victims = np.bincount(wave_case, weights=senders, minlength=n).astype(int)
    parameters = [{"waves": int(w), "first_day": int(f), "last_wave_day": int(d), "senders": int(v),
                   "stealth": bool(x), "received": round(float(p) / 100, 2), "kept": round(float(q) / 100, 2)}
                  for w, f, d, v, x, p, q in zip(waves, first, last_day, victims, stealth, proceeds, kept)]
    return finish(world, day, rng, NEW_ACCOUNT, account, stealth, proceeds.astype(np.int64), parameters,
                  np.r_[wave_case[credit_wave], wave_case[out_wave]], concat([credits, out]), c, MULE)
