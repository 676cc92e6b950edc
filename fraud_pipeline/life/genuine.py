"""Genuine life on one day: what honest customers try to pay (the money that comes in: `life.income`).

Each account's activity is its budgeted level times the day's gamma noise (a gamma–Poisson count:
most cards are idle most days, a few are busy) times its owner's payday lift. The channel volumes
follow the calendar (`calendar.channel_volume`); accounts share them by their weights, tilted by age
and affluence. Point-of-sale and online purchases come in sessions — several purchases minutes apart
in one mall or one web session — at the customer's usual shops or web shops, sometimes new ones,
and at the destination while they travel. ATM withdrawals run in seed 003's sequences at the
customer's usual ATMs. Transfers go to saved payees and other customers of the bank; bills follow the
pay calendar.

Every draw comes from a stream keyed by (seed, purpose, day), so a day is the same whenever it is
generated. Nothing here depends on a balance: whether a payment is approved is decided afterwards
(`ledger`), so the day's attempts never depend on how earlier days went.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np

from fraud_pipeline.core.columns import in_pools
from fraud_pipeline.core.rows import (ATM, BILL, NONE, ONLINE, POS, PURCHASE, TRANSFER, TRANSFER_OUT,
                                      WITHDRAWAL, Rows, concat, make)
from fraud_pipeline.core.streams import stream
from fraud_pipeline.core.timeline import MS_PER_DAY, MS_PER_HOUR, arrival_lag_ms, day_start_ms, times_in_hours
from fraud_pipeline.money import budget
from fraud_pipeline.money.activity import bank_totals, channel_weights
from fraud_pipeline.money.budget import ARRIVAL_CASH, CASH_SIGMA, TRANSFER_SIGMA
from fraud_pipeline.scenario.population import PAY_SCHEDULES
from fraud_pipeline.world import calendar, spending
from fraud_pipeline.world.build import STATUS_NAMES, World
from fraud_pipeline.world.devices import day_number

MS = 1000
SCHEDULED_HOURS = (1, 5)  # debit orders, salaries and standing orders run in the bank's night batch
NEARBY_SHOPS = 12  # a purchase away from the usual shops: one of this many nearest of the category
MALL_SHOPS = 6  # a session's later purchases: one of this many shops nearest the first


def rng_for(world: World, day: date):
    """The day's streams of genuine life, one per purpose, keyed by the world's block."""
    return lambda purpose: stream(world.scenario.seed, "genuine", day.isoformat(), purpose, *world.block_key)  # noqa: E731


def volume_share(world: World, channel: int) -> float:
    """The world's share of the bank's volume on `channel`: its accounts' share of the bank's channel weights (1 for
    the bank itself). Static, so a block's counts depend on the block alone."""
    if world.bank is None:
        return 1.0
    key = ("volume_share", channel)
    if key not in world.caches:
        whole = bank_totals(world).channels[channel]
        world.caches[key] = float(channel_weights(world)[channel].sum() / whole) if whole > 0 else 0.0
    return world.caches[key]


# --- who is busy today ---------------------------------------------------------------------------

def payday_lifts(world: World, day: date, what: str) -> np.ndarray:
    """Per customer: their payday lift of `what` (volume or amount) on `day`."""
    lifts = np.array([calendar.payday_lift(world.scenario, schedule, day, what) for schedule in PAY_SCHEDULES])
    return lifts[world.schedule]


def open_accounts(world: World, day: date) -> np.ndarray:
    """Per account: open on `day` — opened by then (one may open during the run) and not yet closed."""
    today = day_number(day)
    return (world.opened_day <= today) & (world.closed_day > today)


def pays(world: World, day: date) -> np.ndarray:
    """Per account: open on `day` and opened before it — its holder pays from it (the money moved into an account
    on the day it opens arrives in the night batch, and its card works from the next day)."""
    return open_accounts(world, day) & (world.opened_day < day_number(day))


def receives(world: World, day: date) -> np.ndarray:
    """Per account: open and active (a dormant account is silent, a frozen one is not paid by people who know)."""
    return open_accounts(world, day) & (world.status == STATUS_NAMES.index("active"))


def settles(world: World, day: date) -> np.ndarray:
    """Accounts a transfer from another of our accounts may go to on `day`: open that day and the next, when
    transfers between our accounts settle (so none bounces off a closing account)."""
    today = day_number(day)
    return (world.opened_day <= today) & (world.closed_day > today + 1)


def p2p_payees(bank: World, day: date) -> np.ndarray:
    """The bank's accounts another customer may pay on `day`: active, and open until the transfer settles (computed
    once a day for every block)."""
    key = ("p2p_payees", day)
    if key not in bank.caches:
        bank.caches = {k: v for k, v in bank.caches.items() if k[0] != "p2p_payees"}
        bank.caches[key] = np.flatnonzero(settles(bank, day) & (bank.status == 0))
    return bank.caches[key]


def weights(world: World, day: date) -> dict[int, np.ndarray]:
    """Per channel, each account's share of the day's genuine payments (unnormalised)."""
    key = ("weights", day)
    if key in world.caches:
        return world.caches[key]
    c = world.scenario.card_transactions
    noise = stream(world.scenario.seed, "genuine", day.isoformat(), "activity", *world.block_key).gamma(
        c.activity.day_shape, 1.0 / c.activity.day_shape, world.n_accounts)
    today = noise * payday_lifts(world, day, "volume")[world.account_customer] * pays(world, day)
    # an account that opens later (or today) leaves its share of its holder's payments on their salary account until
    # it `pays`, so the holder spends as much
    waiting = np.flatnonzero(world.opened_day >= day_number(day))
    carrier = world.salary_of[world.account_customer[waiting]]
    found = {}
    for channel, weight in channel_weights(world).items():
        if len(waiting):
            weight = weight.copy()
            np.add.at(weight, carrier[carrier >= 0], weight[waiting[carrier >= 0]])
            weight[waiting] = 0.0
        found[channel] = weight * today
    # kept for the day and the day before (a day's own draws ask for it many times; the withdrawal runs of earlier
    # days are kept, not their weights — 4 channels × 8 bytes an account a day adds up over two months)
    world.caches = {k: v for k, v in world.caches.items() if not (k[0] == "weights" and k[1] < day - timedelta(days=1))}
    world.caches[key] = found
    return found


def draw(rng: np.random.Generator, weight: np.ndarray, n: int) -> np.ndarray:
    """`n` rows drawn in proportion to `weight`."""
    total = weight.sum()
    if n == 0 or total <= 0:
        return np.zeros(0, np.int64)
    return np.minimum(np.searchsorted(np.cumsum(weight) / total, rng.random(n)), len(weight) - 1)


# --- places, devices, amounts --------------------------------------------------------------------

def city_place(world: World, city: np.ndarray) -> np.ndarray:
    return len(world.merchant_id) + city


def session_city(world: World, customer: np.ndarray, trip: np.ndarray) -> np.ndarray:
    """Where a customer's digital session comes from (city level, as an IP is located): home, or the trip's city."""
    n_cities = len(world.city_lat) - len(world.foreign_shops)
    city = world.home_city[customer].copy()
    travelling = trip[customer] >= 0
    t = trip[customer][travelling]
    hubs = np.cumsum([0] + [len(p.cities) for p in world.scenario.geography.provinces])[:-1]
    city[travelling] = np.where(world.trips.abroad[t], n_cities + world.trips.destination[t],
                                hubs[world.trips.destination[t] % len(hubs)])
    return city


def digital(world: World, rng: np.random.Generator, day: date, customer: np.ndarray,
            trip: np.ndarray, shopping: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The device and IP address of each digital session: mostly the customer's phone (a new phone is untrusted
    for its first days), sometimes a tablet, laptop (for `shopping` in a browser, often), household member's
    phone, or — at home — a computer shared by 3–6 customers or an internet café's (its own address); home, mobile
    or VPN addresses, or a local address abroad."""
    d = world.scenario.devices
    plan, n = world.devices, len(customer)
    today = day_number(day)
    mine = world.bank_customers(customer)  # the device plan numbers customers as the bank does
    own = mine - plan.first_customer  # its rows (a block's plan holds its customers' only)
    phone = plan.phone_on(today, mine, trusted=False)
    second = plan.second_device[own]
    member = plan.household_phone_of[own]  # the bank's number of a customer of the same block
    u = rng.random((n, 5))
    away = trip[customer] >= 0
    # a shared household or workplace computer, or a public one, at home (not on a trip)
    shared, public = plan.shared_computer[own], plan.public_computer[own]
    computer = np.where((shared >= 0) & (u[:, 3] < d.shared_computers.use), shared,
                        np.where((public >= 0) & (u[:, 4] < d.public_computers.use), public, -1))
    computer = np.where(away, -1, computer)
    use_second = (computer < 0) & (second >= 0) & (
        u[:, 0] < (d.second_device_shopping if shopping else d.second_device_use))
    use_member = (computer < 0) & ~use_second & (member >= 0) & (u[:, 1] < d.household_use)
    member_phone = plan.phone_on(today, np.where(member >= 0, member, mine), trusted=False)  # (own: not used)
    device = np.where(computer >= 0, computer, np.where(use_second, second, np.where(use_member, member_phone, phone)))
    mobile = world.mobile_ips[rng.integers(0, len(world.mobile_ips), n)]
    vpn = world.vpn_ips[rng.integers(0, len(world.vpn_ips), n)]
    ip = np.where(~use_second & (u[:, 2] < 0.4), mobile, world.home_ip[customer])
    if len(world.computer_ip):
        ip = np.where(computer >= 0, world.computer_ip[np.minimum(np.searchsorted(plan.computer_rows, computer),
                                                                  len(plan.computer_rows) - 1)], ip)
    ip = np.where(world.device_vpn[device], vpn, ip)
    abroad = np.zeros(n, bool)
    abroad[away] = world.trips.abroad[trip[customer][away]]
    if abroad.any():
        where = world.trips.destination[trip[customer][abroad]]
        ip[abroad] = in_pools(world.foreign_ips, where, rng.integers(0, 1 << 30, abroad.sum()))
    return device, ip


def fx_rates(world: World, day: date) -> np.ndarray:
    """Each currency's rate on `day`: the region's reference rate with a little daily noise, except currencies
    pegged at par (reference rate 1: the Common Monetary Area's NAD, LSL and SZL against the rand)."""
    noise = stream(world.scenario.seed, "fx", day.isoformat()).normal(0.0, 0.005, len(world.rates))
    return world.rates * np.where(world.rates == 1.0, 1.0, 1.0 + noise)


def in_local_currency(world: World, rng: np.random.Generator, day: date, cents: np.ndarray, currency: np.ndarray,
                      category: np.ndarray, note: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Amounts priced abroad: the price in the merchant's currency (its own price points, or whole ATM notes),
    and what it costs in the region's currency at the day's rate. Returns (local cents, region cents)."""
    rate = fx_rates(world, day)[currency]
    local = np.maximum(np.round(cents / rate).astype(np.int64), 1)
    if note:
        step = world.notes[currency] * 100
        local = np.maximum(np.round(local / step), 1).astype(np.int64) * step
    else:
        points = np.array([c.price_points for c in world.scenario.merchants.categories.values()])
        local = spending.price_point(world.scenario, rng, local, rng.random(len(local)) < points[np.maximum(category, 0)])
    return local, np.round(local * rate).astype(np.int64)


def purchase_times(world: World, rng: np.random.Generator, channel: str, category: np.ndarray, start: int) -> np.ndarray:
    """A time on the day for each row: the channel's hourly profile, or its category's own."""
    c = world.scenario.card_transactions
    names = list(world.scenario.merchants.categories)
    event = np.empty(len(category), np.int64)
    own = np.zeros(len(category), bool)
    for name, profile in c.category_hourly.items():
        mine = category == names.index(name)
        own |= mine
        event[mine] = times_in_hours(rng, int(mine.sum()), 0, profile, start)
    event[~own] = times_in_hours(rng, int((~own).sum()), 0, c.hourly[channel], start)
    return event


def session_rows(rng: np.random.Generator, sessions: int, extra: float, gap) -> tuple[np.ndarray, np.ndarray]:
    """Rows of `sessions` sessions of 1 + Poisson(extra) purchases: each row's session, and its offset (ms) from
    the session's first purchase (log-normal gaps)."""
    size = 1 + rng.poisson(extra, sessions)
    session = np.repeat(np.arange(sessions), size)
    first = np.cumsum(size) - size
    position = np.arange(len(session)) - first[session]
    gaps = np.where(position > 0, np.round(rng.lognormal(math.log(gap.median), gap.sigma, len(session)) * MS), 0)
    offset = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[first] - gaps[first], size)
    return session, offset.astype(np.int64)


def categories_of(world: World, rng: np.random.Generator, customer: np.ndarray, day: date) -> np.ndarray:
    """A category per row: the customer's category mix, tilted by the day's rhythm."""
    w = world.category_weights[customer] * calendar.category_day_weights(world.scenario, day)[None, :]
    cumulative = np.cumsum(w, axis=1)
    u = rng.random(len(customer))[:, None] * cumulative[:, -1:]
    return np.minimum((cumulative < u).sum(axis=1), w.shape[1] - 1)


def amounts(world: World, rng: np.random.Generator, day: date, customer: np.ndarray, category: np.ndarray) -> np.ndarray:
    scale = world.basket[customer] * payday_lifts(world, day, "amount")[customer]
    return spending.prices(world.scenario, rng, category, scale)


def shops_near(world: World, rng: np.random.Generator, category: np.ndarray, lat: np.ndarray, lon: np.ndarray,
               k: int) -> np.ndarray:
    """A shop of each row's category among the k nearest to (lat, lon)."""
    merchant = np.empty(len(category), np.int64)
    pick = rng.random(len(category))
    for c, rows in enumerate(world.shops):
        mine = np.flatnonzero(category == c)
        if len(mine) == 0:
            continue
        near = world.shop_index[c].nearest(lat[mine], lon[mine], k=min(k, len(rows)))
        merchant[mine] = rows[near[np.arange(len(mine)), (pick[mine] * near.shape[1]).astype(np.int64)]]
    return merchant


# --- the channels --------------------------------------------------------------------------------

def purchases(world: World, day: date) -> Rows:
    """Point-of-sale sessions: usual shops near home (Zipf: the nearest most), sometimes new ones nearby or away
    from home, the destination's shops on a trip; later purchases of a session in the same mall."""
    s, rng = world.scenario, rng_for(world, day)
    c, h = s.card_transactions, s.card_transactions.habits
    start, today = day_start_ms(day), day_number(day)
    trip = world.trips.on(today, world.n_customers)
    travelling = trip[world.account_customer] >= 0
    w = weights(world, day)[POS] * np.where(travelling, s.travel.trip_activity, 1.0)
    sessions = round(calendar.channel_volume(s, "pos", day) * volume_share(world, POS) / (1 + c.sessions.extra_purchases))
    account = draw(rng("pos_account"), w, sessions)
    sessions = len(account)  # none when nobody can pay today
    customer = world.account_customer[account]
    category = categories_of(world, rng("pos_category"), customer, day)
    merchant = np.empty(sessions, np.int64)
    u = rng("pos_where").random(sessions)
    out, out_lat, out_lon = outings(world, day)
    away = out[customer]  # a day out of town: every session near the day's spot, none at the usual shops
    usual = (u < h.favourite_share) & ~away
    rank = np.minimum((rng("pos_rank").pareto(1.2, sessions)).astype(np.int64), h.local_merchants - 1)
    local = world.habits.local_shops[customer, category, rank]
    merchant[:] = np.where(usual & (local >= 0), local, -1)
    other = merchant < 0
    lat = np.where(away, out_lat[customer], world.home_lat[customer])
    lon = np.where(away, out_lon[customer], world.home_lon[customer])
    merchant[other] = shops_near(world, rng("pos_new"), category[other], lat[other], lon[other], NEARBY_SHOPS)
    merchant, category = _on_trips(world, rng("pos_trip"), customer, trip, merchant, category, day)

    session, offset_ms = session_rows(rng("pos_session"), sessions, c.sessions.extra_purchases, c.sessions.gap_seconds)
    first = session == np.r_[-1, session[:-1]]
    row_customer = customer[session]
    row_category = np.where(first, category[session], categories_of(world, rng("pos_more"), row_customer, day))
    row_merchant = merchant[session].copy()
    more = np.flatnonzero(~first)
    abroad_session = world.merchant_abroad()[merchant]
    home_more = more[~abroad_session[session[more]]]
    # at home, a session's later purchases are mostly at the customer's usual shops too; the rest at a shop of the
    # same mall (the nearest of their category to the session's first shop)
    at_home = home_more[(trip[row_customer[home_more]] < 0) & ~out[row_customer[home_more]]]
    usual_more = rng("pos_more_usual").random(len(at_home)) < h.favourite_share
    rank_more = np.minimum(rng("pos_more_rank").pareto(1.2, len(at_home)).astype(np.int64), h.local_merchants - 1)
    local_more = world.habits.local_shops[row_customer[at_home], row_category[at_home], rank_more]
    pick = usual_more & (local_more >= 0)
    row_merchant[at_home[pick]] = local_more[pick]
    mall = np.setdiff1d(home_more, at_home[pick], assume_unique=True)
    row_merchant[mall] = shops_near(world, rng("pos_mall"), row_category[mall], world.merchant_lat[merchant[session[mall]]],
                                    world.merchant_lon[merchant[session[mall]]], MALL_SHOPS)
    foreign_more = more[abroad_session[session[more]]]
    row_merchant[foreign_more], row_category[foreign_more] = _foreign_shop(
        world, rng("pos_abroad_more"), trip[row_customer[foreign_more]])
    event = purchase_times(world, rng("pos_time"), "pos", category, start)[session] + offset_ms
    return purchase_rows(world, rng, day, POS, account[session], row_customer, row_category, row_merchant, event)


def outings(world: World, day: date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per customer: whether `day` is a day out of town (a regional trip of a day: shopping and cash away from home,
    within `regional_radius_deg`), and the day's spot (lat, lon). One spot a day, so a customer's card-present day
    is consistent in space: no purchase at home minutes after one a hundred kilometres away. The share of days out
    is `regional_share` of the purchases not at a usual shop (assumption)."""
    key = ("outings", day)
    if key not in world.caches:
        h = world.scenario.card_transactions.habits
        rng = stream(world.scenario.seed, "genuine", day.isoformat(), "outing", *world.block_key)
        n = world.n_customers
        out = rng.random(n) < (1 - h.favourite_share) * h.regional_share
        offset = rng.uniform(-h.regional_radius_deg, h.regional_radius_deg, (n, 2))
        world.caches = {k: v for k, v in world.caches.items() if k[0] != "outings"}
        world.caches[key] = (out, world.home_lat + offset[:, 0], world.home_lon + offset[:, 1])
    return world.caches[key]


def _foreign_shop(world: World, rng: np.random.Generator, trip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A shop in each trip's destination abroad, and its category."""
    where = world.trips.destination[trip]
    pick = rng.integers(0, 1 << 30, len(trip))
    shop = in_pools(world.foreign_shops, where, pick).astype(np.int64)
    return shop, world.merchant_category[shop] if len(shop) else np.zeros(0, np.int64)


def _on_trips(world: World, rng: np.random.Generator, customer: np.ndarray, trip: np.ndarray, merchant: np.ndarray,
              category: np.ndarray, day: date) -> tuple[np.ndarray, np.ndarray]:
    """Sessions of travellers move to their destination: a shop near the province's hub, or a shop abroad."""
    away = np.flatnonzero(trip[customer] >= 0)
    if len(away) == 0:
        return merchant, category
    t = trip[customer[away]]
    abroad = world.trips.abroad[t]
    provinces = world.scenario.geography.provinces
    domestic = away[~abroad]
    hub = np.array([(p.hub.lat, p.hub.lon) for p in provinces])[world.trips.destination[t[~abroad]] % len(provinces)]
    jitter = rng.uniform(-0.3, 0.3, (len(domestic), 2))
    merchant[domestic] = shops_near(world, rng, category[domestic], hub[:, 0] + jitter[:, 0], hub[:, 1] + jitter[:, 1],
                                    NEARBY_SHOPS)
    foreign = away[abroad]
    merchant[foreign], category[foreign] = _foreign_shop(world, rng, t[abroad])
    return merchant, category


def purchase_rows(world: World, rng, day: date, channel: int, account: np.ndarray, customer: np.ndarray,
                   category: np.ndarray, merchant: np.ndarray, event: np.ndarray, device=None, ip=None,
                   scale: np.ndarray | None = None) -> Rows:
    """Purchase rows at `merchant`: amounts by the price model (in the merchant's currency abroad); `scale`
    overrides the customer's basket (× payday lift) as the prices' median multiplier."""
    if scale is None:
        cents = amounts(world, rng(f"amount_{channel}"), day, customer, category)
    else:
        cents = spending.prices(world.scenario, rng(f"amount_{channel}"), category, scale)
    currency = world.merchant_currency[merchant]
    home = world.currencies.index(world.scenario.geography.currency)
    original = cents.copy()
    foreign = np.flatnonzero(currency != home)
    original[foreign], cents[foreign] = in_local_currency(world, rng(f"fx_{channel}"), day, cents[foreign],
                                                          currency[foreign], category[foreign])
    place = merchant
    return make(len(account), account=account, channel=channel, kind=PURCHASE, event_ms=event, cents=cents,
                original_cents=original, currency=np.where(currency == home, NONE, currency), merchant=merchant,
                place=place, card=True, device=device if device is not None else NONE,
                ip=ip if ip is not None else NONE)


def online(world: World, day: date) -> Rows:
    """Web sessions: the customer's usual web shops, or a new one (abroad for cross-border shopping); a session's
    later purchases mostly at the same shop. From the customer's devices and addresses."""
    s, rng = world.scenario, rng_for(world, day)
    c = s.card_transactions
    start, today = day_start_ms(day), day_number(day)
    trip = world.trips.on(today, world.n_customers)
    sessions = round(calendar.channel_volume(s, "online", day) * volume_share(world, ONLINE)
                     / (1 + c.sessions.extra_purchases))
    account = draw(rng("online_account"), weights(world, day)[ONLINE], sessions)
    sessions = len(account)
    customer = world.account_customer[account]
    merchant, category = web_session_shops(world, rng, day, customer, "online")

    session, offset_ms = session_rows(rng("online_session"), sessions, c.sessions.extra_purchases, c.sessions.gap_seconds)
    first = session == np.r_[-1, session[:-1]]
    row_customer = customer[session]
    same = rng("online_same").random(len(session)) < 0.7
    other_category = categories_of(world, rng("online_more"), row_customer, day)
    row_merchant = merchant[session].copy()
    switch = np.flatnonzero(~first & ~same)
    row_merchant[switch] = web_shop(world, rng("online_more_shop"), other_category[switch],
                                     world.merchant_abroad()[merchant[session[switch]]])
    row_category = world.merchant_category[row_merchant]
    event = purchase_times(world, rng("online_time"), "online", category, start)[session] + offset_ms
    device, ip = digital(world, rng("online_device"), day, customer, trip, shopping=True)
    return purchase_rows(world, rng, day, ONLINE, account[session], row_customer, row_category, row_merchant, event,
                          device[session], ip[session])


def web_session_shops(world: World, rng, day: date, customer: np.ndarray, purpose: str) -> tuple[np.ndarray,
                                                                                                  np.ndarray]:
    """Each web session's shop and category: one of the customer's usual web shops, or a new one of a category from
    their mix (abroad for cross-border shopping). `rng(name)` gives the streams, named after `purpose`."""
    h = world.scenario.card_transactions.habits
    n = len(customer)
    category = categories_of(world, rng(f"{purpose}_category"), customer, day)
    favourites = world.habits.web_shops[customer]
    count = (favourites >= 0).sum(axis=1)
    pick = (rng(f"{purpose}_favourite").random(n) * count).astype(np.int64)
    usual = rng(f"{purpose}_usual").random(n) < h.online_favourite_share
    merchant = np.where(usual & (count > 0), favourites[np.arange(n), np.minimum(pick, favourites.shape[1] - 1)], -1)
    new = merchant < 0
    abroad = rng(f"{purpose}_abroad").random(n) < h.foreign_online_share
    merchant[new] = web_shop(world, rng(f"{purpose}_new"), category[new], abroad[new])
    return merchant, np.where(new, category, world.merchant_category[merchant])


def web_shop(world: World, rng: np.random.Generator, category: np.ndarray, abroad: np.ndarray) -> np.ndarray:
    """Any web shop of each row's category, at home or abroad (falling back to home when abroad has none)."""
    merchant = np.empty(len(category), np.int64)
    pick = rng.integers(0, 1 << 30, len(category))
    for c in range(len(world.web_shops)):
        for foreign, pool in ((False, world.web_shops[c]), (True, world.foreign_web_shops[c])):
            pool = pool if len(pool) else world.web_shops[c]
            mine = np.flatnonzero((category == c) & (abroad == foreign))
            merchant[mine] = pool[pick[mine] % len(pool)]
    return merchant


def withdrawal_runs(world: World, run_day: date) -> dict:
    """Seed 003's runs that start on `run_day`: 3–10 withdrawals 6–168 h apart, whatever day each lands on.
    Pure: kept while a range still needs them."""
    key = ("atm_runs", run_day)
    if key in world.caches:
        return world.caches[key]
    s, atm = world.scenario, world.scenario.card_transactions.atm
    rng = stream(s.seed, "atm_runs", run_day.isoformat(), *world.block_key)
    mean_length = (atm.sequence_length.min + atm.sequence_length.max) / 2
    runs = round(calendar.channel_volume(s, "atm", run_day) * volume_share(world, ATM) / mean_length)
    account = draw(rng, weights(world, run_day)[ATM], runs)
    runs = len(account)
    longest = atm.sequence_length.max
    length = rng.integers(atm.sequence_length.min, atm.sequence_length.max + 1, runs)
    # whole days apart (the gap in hours, rounded up to days), each at an hour of the ATM profile
    gap_days = np.ceil(rng.uniform(atm.gap_hours.min, atm.gap_hours.max, (runs, max(longest - 1, 0))) / 24)
    offset = np.concatenate([np.zeros((runs, 1)), np.cumsum(gap_days, axis=1)], axis=1).astype(np.int64)
    run, position = np.nonzero(np.arange(longest)[None, :] < length[:, None])
    start = day_start_ms(run_day) + offset[run, position] * MS_PER_DAY
    event = times_in_hours(rng, len(run), 0, s.card_transactions.hourly["atm"], 0) + start
    # compact: a range keeps about two months of runs in memory
    found = {"account": account[run].astype(np.int32), "event_ms": event,
             "u": rng.random((len(run), 3), dtype=np.float32), "cash": rng.lognormal(0.0, CASH_SIGMA, len(run)).astype(np.float32)}
    world.caches[key] = found
    stale = [k for k in world.caches if k[0] == "atm_runs" and k[1] < run_day - timedelta(days=lookback_days(world) + 1)]
    for k in stale:
        del world.caches[k]
    return found


def lookback_days(world: World) -> int:
    """How many days back a withdrawal run that still withdraws today can have started."""
    atm = world.scenario.card_transactions.atm
    return math.ceil((atm.sequence_length.max - 1) * atm.gap_hours.max / 24) + 1


def withdrawals(world: World, day: date) -> Rows:
    """The withdrawals of every run (started today or in the weeks before) that happen today: at the customer's
    usual ATMs, or abroad in local notes on a trip."""
    s = world.scenario
    atm = s.card_transactions.atm
    start, today = day_start_ms(day), day_number(day)
    found = [withdrawal_runs(world, day - timedelta(days=back)) for back in range(lookback_days(world), -1, -1)]
    picked = [np.flatnonzero((f["event_ms"] >= start) & (f["event_ms"] < start + MS_PER_DAY)) for f in found]
    account = np.concatenate([f["account"][p] for f, p in zip(found, picked)]).astype(np.int64)
    event = np.concatenate([f["event_ms"][p] for f, p in zip(found, picked)])
    u = np.concatenate([f["u"][p] for f, p in zip(found, picked)]).reshape(-1, 3)
    cash = np.concatenate([f["cash"][p] for f, p in zip(found, picked)])
    customer = world.account_customer[account]
    merchant = usual_atm(world, customer, u[:, 0])
    out, out_lat, out_lon = outings(world, day)
    away_today = np.flatnonzero(out[customer])  # a day out of town: the ATM nearest the day's spot
    if len(away_today):
        merchant[away_today] = world.atms[world.atm_index.nearest(out_lat[customer[away_today]],
                                                                  out_lon[customer[away_today]], 1)[:, 0]]
    trip = world.trips.on(today, world.n_customers)[customer]
    away = np.flatnonzero(trip >= 0)
    abroad = away[world.trips.abroad[trip[away]]]
    domestic = away[~world.trips.abroad[trip[away]]]
    provinces = s.geography.provinces
    hub = np.array([(p.hub.lat, p.hub.lon) for p in provinces])[world.trips.destination[trip[domestic]] % len(provinces)]
    jitter = (u[domestic, 1:] - 0.5) * 0.6
    merchant[domestic] = world.atms[world.atm_index.nearest(hub[:, 0] + jitter[:, 0], hub[:, 1] + jitter[:, 1], 1)[:, 0]]
    where = world.trips.destination[trip[abroad]]
    merchant[abroad] = in_pools(world.foreign_atms, where, u[abroad, 1])
    wanted = np.minimum(budget.of(world).cash_median[account] / 100 * cash, atm.max_amount)
    cents = np.clip(np.round(wanted / atm.amount_step) * atm.amount_step, atm.amount_step, atm.max_amount) * 100
    cents = cents.astype(np.int64)
    original = cents.copy()
    currency = world.merchant_currency[merchant]
    home = world.currencies.index(s.geography.currency)
    foreign = np.flatnonzero(currency != home)
    rng = rng_for(world, day)
    original[foreign], cents[foreign] = in_local_currency(world, rng("atm_fx"), day, cents[foreign], currency[foreign],
                                                          np.full(len(foreign), -1), note=True)
    return make(len(account), account=account, channel=ATM, kind=WITHDRAWAL, event_ms=event, cents=cents,
                original_cents=original, currency=np.where(currency == home, NONE, currency), merchant=merchant,
                place=merchant, card=True)


def usual_atm(world: World, customer: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One of each customer's usual ATMs (merchant rows), the home ATM most often: `u` uniform in [0, 1), one per
    customer row (withdrawals, and cash deposits in `life.income`)."""
    usual = world.habits.atms[customer]
    count = np.maximum((usual >= 0).sum(axis=1), 1)
    slot = np.minimum((u ** 2 * count).astype(np.int64), usual.shape[1] - 1)
    found = usual[np.arange(len(customer)), slot]
    return np.where(found >= 0, found, usual[:, 0])


def trip_cash(world: World, day: date) -> Rows:
    """Cash abroad besides the withdrawal runs that fall in a trip: local notes the day a traveller arrives
    (`travel.trip_cash.on_arrival`, ARRIVAL_CASH withdrawals' worth), and on some of the trip's other days
    (`per_day`, one withdrawal's worth) — holidaymakers, and
    cross-border customers going home or shopping across a land border. From the customer's salary account, at an
    ATM of the destination, at an hour of the ATM profile."""
    s = world.scenario
    cash = s.travel.trip_cash
    today = day_number(day)
    t = world.trips
    abroad = np.flatnonzero(t.abroad & (t.first_day <= today) & (t.last_day >= today))
    rng = rng_for(world, day)
    u = rng("trip_cash").random(len(abroad))
    withdraws = u < np.where(t.first_day[abroad] == today, cash.on_arrival, cash.per_day)
    trip = abroad[withdraws]
    account = world.salary_of[t.customer[trip]]
    usable = (account >= 0) & open_accounts(world, day)[np.maximum(account, 0)]
    trip, account = trip[usable], account[usable]
    n = len(trip)
    atm = s.card_transactions.atm
    merchant = in_pools(world.foreign_atms, t.destination[trip], rng("trip_cash_atm").random(n)).astype(np.int64)
    arriving = t.first_day[trip] == today  # travel money for the trip: several withdrawals' worth at once
    wanted = np.minimum(budget.of(world).cash_median[account] / 100 * np.where(arriving, ARRIVAL_CASH, 1.0)
                        * rng("trip_cash_amount").lognormal(0.0, CASH_SIGMA, n), atm.max_amount)
    cents = (np.clip(np.round(wanted / atm.amount_step) * atm.amount_step, atm.amount_step, atm.max_amount)
             * 100).astype(np.int64)
    currency = world.merchant_currency[merchant]
    original, cents = in_local_currency(world, rng("trip_cash_fx"), day, cents, currency, np.full(n, -1), note=True)
    event = times_in_hours(rng("trip_cash_time"), n, 0, s.card_transactions.hourly["atm"], day_start_ms(day))
    home = world.currencies.index(s.geography.currency)
    return make(n, account=account, channel=ATM, kind=WITHDRAWAL, event_ms=event, cents=cents,
                original_cents=original, currency=np.where(currency == home, NONE, currency), merchant=merchant,
                place=merchant, card=True)


def _payable(world: World, day: date) -> tuple[np.ndarray, np.ndarray]:
    """Payees each account may pay today as an existing relationship (first paid before today): rows of
    World.payee, and each row's account."""
    account = np.repeat(np.arange(world.n_accounts), np.diff(world.payee_offsets))
    ok = world.payee_first_paid < day_number(day)
    return np.flatnonzero(ok), account[ok]


RISKY_PAYEES = ["crypto", "offshore"]


def transfers(world: World, day: date) -> Rows:
    """The day's customer-initiated transfers (the transfer channel's volume): to a payee the account already pays,
    or to another customer of the bank (both accounts ours). From the customer's devices."""
    s, rng = world.scenario, rng_for(world, day)
    start, today = day_start_ms(day), day_number(day)
    n = round(calendar.channel_volume(s, "transfer", day) * volume_share(world, TRANSFER))
    rows, owner = _payable(world, day)
    has_payee = np.bincount(owner, minlength=world.n_accounts) > 0
    weight = weights(world, day)[TRANSFER] * (has_payee | (s.money.p2p_rate > 0))
    account = draw(rng("transfer_account"), weight, n)
    n = len(account)
    customer = world.account_customer[account]
    p2p = (rng("transfer_p2p").random(n) < s.money.p2p_rate) | ~has_payee[account]
    first_row = np.searchsorted(owner, account)
    count = np.searchsorted(owner, account, side="right") - first_row
    pick = first_row + (rng("transfer_payee").random(n) * np.maximum(count, 1)).astype(np.int64)
    # crypto wallets and offshore payees are paid less often than the family, the landlord or a shop: a risky pick is
    # mostly drawn again (assumption: a few percent of transfers, not their share of saved payees)
    again = first_row + (rng("transfer_payee_again").random(n) * np.maximum(count, 1)).astype(np.int64)
    if len(rows):
        risky = np.isin(world.beneficiary_type[world.payee[rows[np.minimum(pick, len(rows) - 1)]]], RISKY_PAYEES)
        pick = np.where(risky & (rng("transfer_payee_risky").random(n) < 0.7), again, pick)
    payee = np.where(p2p, NONE, world.payee[rows[np.minimum(pick, len(rows) - 1)]] if len(rows) else NONE)
    # another customer of the bank, in any block: a counterparty is the bank's account number
    others = p2p_payees(world.directory, day)
    counterparty = np.where(p2p, others[rng("transfer_counterparty").integers(0, max(len(others), 1), n)
                                        % max(len(others), 1)] if len(others) else NONE, NONE)
    counterparty = np.where(counterparty == world.bank_accounts(account), NONE, counterparty)
    payee = np.where(p2p & (counterparty < 0), NONE, payee)
    # once-off payments: to a payee the customer pays without saving it (a plumber, a seller online)
    once_off = (payee >= 0) & (rng("transfer_once_off").random(n) < s.beneficiaries.once_off_share)
    payee = np.where(once_off, rng("transfer_once_off_payee").integers(0, len(world.beneficiary_id), n), payee)
    keep = (payee >= 0) | (counterparty >= 0)
    median = budget.of(world).transfer_median[account]
    cents = spending.typed_amount(rng("transfer_typed"), np.minimum(
        median * rng("transfer_amount").lognormal(0, TRANSFER_SIGMA, n), 2 * world.income[customer] * 100))
    trip = world.trips.on(today, world.n_customers)
    device, ip = digital(world, rng("transfer_device"), day, customer, trip)
    event = times_in_hours(rng("transfer_time"), n, 0, s.card_transactions.hourly["transfer"], start)
    out = make(n, account=account, channel=TRANSFER, kind=TRANSFER_OUT, event_ms=event, cents=cents, payee=payee,
               counterparty=counterparty, place=city_place(world, session_city(world, customer, trip)), device=device,
               ip=ip, card=True)
    return out.take(np.flatnonzero(keep))


def first_payments(world: World, day: date) -> Rows:
    """The first payment to each payee saved during the calendar, a few days after it was saved."""
    s, rng = world.scenario, rng_for(world, day)
    today = day_number(day)
    start = day_number(s.start_date)
    row = np.flatnonzero((world.payee_first_paid == today) & (world.payee_added >= start))
    account = np.repeat(np.arange(world.n_accounts), np.diff(world.payee_offsets))[row]
    row = row[pays(world, day)[account] & (world.status[account] != 1)]
    account = np.repeat(np.arange(world.n_accounts), np.diff(world.payee_offsets))[row]
    customer = world.account_customer[account]
    n = len(row)
    cents = spending.typed_amount(rng("first_typed"), budget.of(world).transfer_median[account]
                                  * rng("first_amount").lognormal(0, TRANSFER_SIGMA, n))
    trip = world.trips.on(today, world.n_customers)
    device, ip = digital(world, rng("first_device"), day, customer, trip)
    event = times_in_hours(rng("first_time"), n, 0, s.card_transactions.hourly["transfer"], day_start_ms(day))
    return make(n, account=account, channel=TRANSFER, kind=TRANSFER_OUT, event_ms=event, cents=cents,
                payee=world.payee[row], place=city_place(world, session_city(world, customer, trip)), device=device,
                ip=ip, card=True)


def scheduled_times(rng: np.random.Generator, n: int, day: date) -> np.ndarray:
    first, last = SCHEDULED_HOURS
    return day_start_ms(day) + rng.integers(first * MS_PER_HOUR, last * MS_PER_HOUR, n)


def paid_today(world: World, day: date) -> np.ndarray:
    """Per customer: whether a fixed-schedule payday falls on `day`."""
    s = world.scenario
    days = np.array([calendar.days_since_payday(s, schedule, day) == 0 if schedule != "irregular" else False
                     for schedule in PAY_SCHEDULES])
    return days[world.schedule]


def days_after_payday(world: World, day: date) -> np.ndarray:
    """Per customer: days since their latest fixed-schedule payday (irregular earners: since the 1st)."""
    s = world.scenario
    since = np.array([calendar.days_since_payday(s, schedule, day) if schedule != "irregular" else day.day - 1
                      for schedule in PAY_SCHEDULES])
    return since[world.schedule]


SCHEDULED_OFFSETS = 8  # scheduled payments fall up to a week after payday


def due_today(world: World, day: date) -> np.ndarray:
    """(pay schedules, offsets): whether a payment due `offset` days after the schedule's payday is processed on
    `day` — the bank processes scheduled payments on business days, a due date on a weekend or holiday the
    business day after."""
    s = world.scenario
    due = np.zeros((len(PAY_SCHEDULES), SCHEDULED_OFFSETS), bool)
    if not calendar.is_business_day(s, day):
        return due
    previous = day - timedelta(days=1)
    window = [day]  # the non-business days just before `day` roll onto it
    while not calendar.is_business_day(s, previous) and len(window) < 7:
        window.append(previous)
        previous -= timedelta(days=1)
    for i, schedule in enumerate(PAY_SCHEDULES):
        for nominal in window:
            since = (calendar.days_since_payday(s, schedule, nominal) if schedule != "irregular"
                     else nominal.day - 1)
            if since is not None and since < SCHEDULED_OFFSETS:
                due[i, since] = True
    return due


def bills(world: World, day: date) -> Rows:
    """Debit orders processed today: each salary account's bills, a fixed amount each month, some days after payday
    (on business days)."""
    rng = rng_for(world, day)
    b = world.bills
    account = b["account"].to_numpy()
    due = due_today(world, day)[world.schedule[world.account_customer[account]], b["offset"].to_numpy()]
    due &= open_accounts(world, day)[account]
    row = np.flatnonzero(due)
    n = len(row)
    return make(n, account=account[row], channel=TRANSFER, kind=BILL,
                event_ms=scheduled_times(rng("bill_time"), n, day), cents=b["cents"].to_numpy()[row],
                payee=b["payee"].to_numpy()[row], place=city_place(world, world.home_city[world.account_customer[account[row]]]))


def genuine_day(world: World, day: date) -> Rows:
    """Every genuine attempt that happens on `day` (event time), with its arrival time (credits from outside:
    `life.income.income_day`)."""
    parts = [purchases(world, day), online(world, day), withdrawals(world, day), trip_cash(world, day),
             transfers(world, day), first_payments(world, day), bills(world, day)]
    rows = concat(parts)
    lag = world.scenario.card_transactions.arrival_lag_seconds
    rows.arrival_ms = rows.event_ms + arrival_lag_ms(rng_for(world, day)("lag"), len(rows), lag.median, lag.sigma,
                                                     lag.max)
    return rows
