"""Seed 002's clickstream: the bank's customers' sessions on the online shops of `merchants`.

A session opens on the shop's landing page, clicks through to product pages (each a `click` and a
`page_view`), may put the last product in the cart (`add_to_cart`) and may buy (`purchase`). Every
online card purchase of the day's stream — genuine or fraudulent, approved or declined — is the
`purchase` event of one session, at the transaction's own time, and the transaction names its
session; most sessions end without buying. Customers who re-order at a usual shop go straight to the
cart, and so do most plain card-not-present fraudsters (from their own device, with the stolen card's
holder as the customer); stealthy ones browse like the customers they imitate.

A session is what a web-analytics sessioniser finds: one device's visit to one shop until
`timeout_minutes` pass without an event. Checkouts of one customer on one device at one shop less than
the timeout apart are one session with several purchases (a checkout starts after the device's previous
one, so they never overlap); a browsing session that would run into another visit of its device at that
shop is not made. A session's events are delivered together when it closes: with its last purchase, or
`timeout_minutes` after its last event. So a day's partition holds the sessions that close on it, and a
session never spans two partitions: a visit across midnight is two sessions. A day cannot see the day before's
sessions, so the session of a checkout after midnight starts after midnight (squeezed into the minutes since, like
a checkout after another); the two sessions of a visit across midnight never overlap.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core import schemas
from fraud_pipeline.core.columns import ids, nullable, spans
from fraud_pipeline.core.keys import label_key, numbers_of_rows
from fraud_pipeline.core.labels import SCENARIOS, episode_ids
from fraud_pipeline.core.rows import ONLINE, PURCHASE, Rows
from fraud_pipeline.core.streams import stream
from fraud_pipeline.core.timeline import arrival_lag_ms, batch_of, day_start_ms
from fraud_pipeline.life.genuine import digital, draw, purchase_times, web_session_shops, weights
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.world.devices import day_number
from fraud_pipeline.world.spending import CENTS, price_at

EVENT_TYPES = ("page_view", "click", "add_to_cart", "purchase")  # seed 002's event types
PAGE_VIEW, CLICK, ADD_TO_CART, BUY = range(4)
SESSION_ID_SPACE = 10**8  # session numbers per arrival day
EVENT_ID_SPACE = 10**9  # event numbers per arrival day
MAX_PRODUCTS = 30  # product pages a session opens at most
MAX_GAP_S = 600  # seconds between two events of a session at most (a longer pause would close it)
POPULARITY = 1.3  # Zipf exponent of a shop's product popularity (assumption: a few best-sellers)
MAX_VISIT_MS = (2 * MAX_PRODUCTS + 3) * MAX_GAP_S * 1000  # a visit of several checkouts spans at most the longest session
SEGMENT_MS = 10 * 86_400_000  # longer than any day's spread of session times


def max_lag_ms(scenario: Scenario) -> int:
    """The longest a session's first event can wait for its delivery: the longest session, the timeout and the
    transaction's longest delivery lag."""
    longest_session = (2 * MAX_PRODUCTS + 3) * MAX_GAP_S
    return round((longest_session + scenario.customer_events.timeout_minutes * 60
                  + scenario.card_transactions.arrival_lag_seconds.max) * 1000)


def customer_events(world, day: date, rows: Rows, transaction_ids: pa.Array) -> tuple[pa.Table, pa.Array]:
    """The sessions that close on `day`: one per online purchase in `rows` (the day's posted rows, genuine and
    fraud, in arrival order; `transaction_ids` their ids) and the browsing sessions that end without one.

    Returns the `customer_events` table (sorted by arrival, then session, then time) and, per row of `rows`, its
    session id (null for every row that is not an online purchase).
    """
    s = world.scenario
    c = s.customer_events
    rng = lambda purpose: stream(s.seed, "clickstream", day.isoformat(), purpose, *world.block_key)  # noqa: E731
    start = day_start_ms(day)
    bought = np.flatnonzero((rows.channel == ONLINE) & (rows.kind == PURCHASE))
    b = rows.take(bought)
    n_buy = len(bought)
    timeout_ms = round(c.timeout_minutes * 60_000)
    genuine = b.scenario < 0
    genuine_visits = _checkout_visits(b.device[genuine], b.merchant[genuine], b.account[genuine], b.event_ms[genuine],
                                      timeout_ms)
    n_browse = round(genuine_visits * (1 - c.conversion) / c.conversion)

    # browsing sessions: who, where, from which device, when they close
    account = draw(rng("browse_account"), weights(world, day)[ONLINE], n_browse)
    n_browse = len(account)
    browser = world.account_customer[account]
    browse_shop, browse_category = web_session_shops(world, rng, day, browser, "browse")
    trip = world.trips.on(day_number(day), world.n_customers)
    browse_device, browse_ip = digital(world, rng("browse_device"), day, browser, trip, shopping=True)
    closes = purchase_times(world, rng("browse_time"), "online", browse_category, start)

    n = n_buy + n_browse
    buying = np.arange(n) < n_buy
    customer = np.concatenate([world.account_customer[b.account], browser])
    merchant = np.concatenate([b.merchant, browse_shop])
    is_fraud = np.concatenate([b.scenario >= 0, np.zeros(n_browse, bool)])

    # the path: straight to the cart, a bounce, or product pages
    u = rng("path").random((n, 2))
    usual = (world.habits.web_shops[customer[:n_buy]] == merchant[:n_buy, None]).any(axis=1)
    plain_fraud = is_fraud[:n_buy] & np.isin(b.device, world.devices.ring_devices)
    direct = np.zeros(n, bool)
    direct[:n_buy] = np.where(plain_fraud, u[:n_buy, 0] < c.fraud_direct,
                              ~is_fraud[:n_buy] & usual & (u[:n_buy, 0] < c.quick_reorder))
    bounce = ~buying & (u[:, 0] < c.bounce)
    mean = np.where(buying, c.products_viewed.buying, c.products_viewed.browsing)
    products = np.where(direct | bounce, 0, 1 + np.minimum(rng("products").poisson(mean - 1), MAX_PRODUCTS - 1))
    cart = buying | (~bounce & (u[:, 1] < c.browsing_cart_share))
    count = 1 + 2 * products + cart + buying

    # events, in order within each session
    session = np.repeat(np.arange(n), count)
    first = np.cumsum(count) - count
    position = np.arange(len(session)) - first[session]
    steps = 2 * products[session]
    kind = np.where(position == 0, PAGE_VIEW, np.where(position <= steps, np.where(position % 2 == 1, CLICK, PAGE_VIEW),
                                                       np.where(buying[session] & (position == count[session] - 1),
                                                                BUY, ADD_TO_CART)))
    # products by popularity; a click opens the clicked product's page; the cart holds the last product seen (or,
    # straight to the cart, one from the order history). A buying session's last product is the catalogue item
    # nearest its order's total: the order is that item with smaller extras or shipping.
    drawn = _products(rng("product"), len(session), c.catalogue_products)
    carted = np.arange(n_buy)
    chosen = np.where(products[carted] > 0, first[carted] + 2 * products[carted] - 1, first[carted] + 1)
    drawn[chosen] = _nearest_product(s, rng("basket"), merchant[carted], world.merchant_category[merchant[carted]],
                                     b.cents, c.catalogue_products)
    product = drawn.copy()
    shown = (kind == PAGE_VIEW) & (position > 0)
    product[shown] = drawn[np.flatnonzero(shown) - 1]
    last_seen = (kind == ADD_TO_CART) & (products[session] > 0)
    product[last_seen] = drawn[first[session[last_seen]] + 2 * products[session[last_seen]] - 1]
    product[(kind == BUY) | (position == 0)] = -1  # a purchase is the order, not a product; the landing page none

    # times: log-normal gaps; a buying session ends at its transaction, a browsing one timeout + delivery before it
    # closes; a buying session starts after the same account's previous online purchase of the day
    gap = np.minimum(rng("gaps").lognormal(np.log(c.seconds_per_page.median), c.seconds_per_page.sigma, len(session)),
                     MAX_GAP_S)
    gap = np.round(np.where(position == 0, 0, gap) * 1000).astype(np.int64)
    elapsed = np.cumsum(gap) - np.repeat(np.cumsum(gap)[first], count)
    duration = elapsed[first + count - 1]
    lag = s.card_transactions.arrival_lag_seconds
    delivery = arrival_lag_ms(rng("delivery"), n_browse, lag.median, lag.sigma, lag.max)
    end = np.concatenate([b.event_ms, closes - round(c.timeout_minutes * 60_000) - delivery])
    arrival = np.concatenate([b.arrival_ms, closes])
    squeeze = np.ones(n)
    earliest = _after_previous_purchase(b.device, b.event_ms, rng("resume").uniform(0.05, 0.6, n_buy))
    # a purchase after midnight: its session starts after midnight too, so it never overlaps a session of its visit
    # the day before made (that day's partition, which this day cannot see)
    earliest = np.where(b.event_ms >= start, np.maximum(earliest, start), earliest)
    room = b.event_ms - earliest
    short = duration[:n_buy] > room
    squeeze[:n_buy][short] = room[short] / np.maximum(duration[:n_buy][short], 1)
    event_ms = end[session] - np.round((duration[session] - elapsed) * squeeze[session]).astype(np.int64)

    def per_session(bought_values: np.ndarray) -> np.ndarray:
        """A buying session's value of its transaction; -1 for a browsing session."""
        return np.concatenate([bought_values, np.full(n_browse, -1, np.int64)])

    cents = np.where(product >= 0, catalogue_cents(s, world.merchant_category[merchant[session]], merchant[session],
                                                   np.maximum(product, 0)), -1)
    cents = np.where(kind == BUY, per_session(b.cents)[session], cents)
    device_of = np.concatenate([b.device, browse_device])
    label = np.concatenate([b.episode, np.full(n_browse, -1, np.int64)])
    visit, kept = _visits(device_of, merchant, customer, label, buying, event_ms[first], event_ms[first + count - 1],
                          timeout_ms, len(world.merchant_id))
    begin = event_ms[first]  # per checkout or browsing session: its first event
    keep_event = kept[session]
    session, kind, product, cents, event_ms, position = (x[keep_event] for x in (session, kind, product, cents,
                                                                                   event_ms, position))
    n_visits = int(visit.max()) + 1 if len(visit) else 0
    arrival = np.full(n_visits, np.iinfo(np.int64).min)
    np.maximum.at(arrival, visit[kept], np.concatenate([b.arrival_ms, closes])[kept])
    numbers = numbers_of_rows(label_key(s.seed, "session_ids", day.isoformat()), world.block_number, world.n_blocks,
                              n_visits, SESSION_ID_SPACE)
    session_ids = ids(f"S{day:%Y%m%d}", numbers, 8)
    # a visit's checkouts one after another (each starts after the one before: time order, ties kept in place); a
    # session's events stay together in order, so the sessions are sorted and their events follow
    sessions_kept = np.flatnonzero(kept)
    session_order = sessions_kept[np.lexsort((begin[sessions_kept], visit[sessions_kept],
                                              arrival[visit[sessions_kept]]))]
    events_kept = count[sessions_kept]
    first_kept = np.zeros(n, np.int64)
    first_kept[sessions_kept] = np.cumsum(events_kept) - events_kept
    order = spans(first_kept[session_order], count[session_order])
    session, kind, product, cents, event_ms = (x[order] for x in (session, kind, product, cents, event_ms))
    transaction_row = np.where(kind == BUY, per_session(bought)[session], -1)
    scenario, episode = per_session(b.scenario)[session], per_session(b.episode)[session]
    device, ip = device_of[session], np.concatenate([b.ip, browse_ip])[session]
    shop, who = merchant[session], customer[session]
    session = visit[session]
    product_number = (np.maximum(product, 0) * 7919 + shop * 31) % c.catalogue_products  # best-sellers spread out
    product_id = pc.binary_join_element_wise(world.merchant_id.take(pa.array(shop)),
                                             ids("-P", product_number, len(str(c.catalogue_products - 1))), "")
    table = schemas.CUSTOMER_EVENTS.build({
        "event_id": ids(f"E{day:%Y%m%d}", numbers_of_rows(label_key(s.seed, "event_ids", day.isoformat()),
                                                          world.block_number, world.n_blocks, len(session),
                                                          EVENT_ID_SPACE), 9),
        "session_id": session_ids.take(pa.array(session)),
        "event_time": pa.array(event_ms, pa.timestamp("ms")),
        "arrival_time": pa.array(arrival[session], pa.timestamp("ms")),
        "batch": batch_of(arrival[session], start),
        "customer_id": world.customer_id.take(pa.array(who)),
        "device_id": world.device_id.take(nullable(device)),
        "ip_address": world.ip_text(ip),
        "merchant_id": world.merchant_id.take(pa.array(shop)),
        "event_type": pa.array(EVENT_TYPES).take(pa.array(kind)),
        "product_id": pc.if_else(pa.array(product >= 0), product_id, pa.scalar(None, pa.string())),
        "product_category": world.category_name.take(pa.array(shop)),
        "price": pa.array(cents / CENTS, mask=cents < 0),
        "transaction_id": transaction_ids.take(nullable(transaction_row)),
        "is_fraud": scenario >= 0,
        "fraud_scenario": pa.array(SCENARIOS).take(nullable(scenario)),
        "fraud_episode_id": episode_ids(episode),
    })
    row_session = np.full(len(rows), -1)
    row_session[bought] = visit[:n_buy]
    return table, session_ids.take(nullable(row_session))


def _checkout_visits(device: np.ndarray, shop: np.ndarray, account: np.ndarray, event_ms: np.ndarray,
                     timeout_ms: int) -> int:
    """How many visits the checkouts make (about: purchases of one account on one device at one shop less than the
    timeout apart share one) — what the browsing sessions are counted from, so that `conversion` is a share of
    sessions."""
    order = np.lexsort((event_ms, account, shop, device))
    same = (device[order][1:] == device[order][:-1]) & (shop[order][1:] == shop[order][:-1]) & (
        account[order][1:] == account[order][:-1]) & (np.diff(event_ms[order]) <= timeout_ms)
    return int(len(order) - same.sum())


def _visits(device: np.ndarray, shop: np.ndarray, customer: np.ndarray, label: np.ndarray, buying: np.ndarray,
            begin: np.ndarray, end: np.ndarray, timeout_ms: int, n_shops: int) -> tuple[np.ndarray, np.ndarray]:
    """One session per visit, as a web-analytics sessioniser sees it: a device's events at one shop until
    `timeout_ms` without one. Checkouts of one customer (and one fraud episode, or none) on one device at one shop
    less than the timeout apart are one session with several purchases (they never overlap: a checkout starts after
    the device's previous purchase). A browsing session that would run into another session of its device at the
    shop is not made (the visit it belongs to already has its pages). Returns, per checkout or browsing session
    (in), its visit number (0 … visits − 1, in order of the inputs' first member), and whether it is kept."""
    n = len(device)
    key = device.astype(np.int64) * n_shops + shop
    order = np.lexsort((begin, key))
    kept = np.ones(n, bool)
    for _ in range(2):  # the second pass sees the neighbours a dropped browsing session leaves
        rows = order[kept[order]]
        joins = _joins(key[rows], begin[rows], end[rows], timeout_ms)
        touching = joins | np.r_[joins[1:], False]  # within the timeout of the session before or after
        kept[rows[touching & ~buying[rows]]] = False
    rows = order[kept[order]]
    joins = _joins(key[rows], begin[rows], end[rows], timeout_ms)
    same = np.r_[False, (customer[rows][1:] == customer[rows][:-1]) & (label[rows][1:] == label[rows][:-1])]
    starts = ~(joins & same)
    offset = np.cumsum(starts).astype(np.int64) * SEGMENT_MS - (begin.min() if n else 0)
    chain_start = np.maximum.accumulate(np.where(starts, begin[rows] + offset, np.iinfo(np.int64).min)) - offset
    group = np.cumsum(starts | (begin[rows] - chain_start > MAX_VISIT_MS)) - 1  # a visit spans a session at most
    first = np.full(int(group.max()) + 1 if len(group) else 0, n)
    np.minimum.at(first, group, rows)  # number visits in order of their first member's position
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    visit = np.full(n, -1, np.int64)
    visit[rows] = rank[group]
    return visit, kept


def _joins(key: np.ndarray, begin: np.ndarray, end: np.ndarray, timeout_ms: int) -> np.ndarray:
    """For sessions sorted by (key, begin): whether each starts less than `timeout_ms` after the latest end of the
    sessions before it with the same key."""
    if len(key) == 0:
        return np.zeros(0, bool)
    new_key = np.r_[True, key[1:] != key[:-1]]
    segment = np.cumsum(new_key)
    # the running latest end within a key: ends offset by segment, so a maximum never reaches into the previous key
    offset = segment.astype(np.int64) * SEGMENT_MS - end.min()
    latest = np.maximum.accumulate(end + offset) - offset
    return np.r_[False, ~new_key[1:] & (begin[1:] - latest[:-1] <= timeout_ms)]


def _products(rng: np.random.Generator, n: int, catalogue: int) -> np.ndarray:
    """Product ranks by popularity (Zipf's law with exponent `POPULARITY`, 0 the best-seller), within the catalogue:
    the ranks beyond it fall on its last product. Drawn by inverse CDF, one uniform each (numpy's `zipf` rejection
    sampler costs ten times as much: a million-payment day draws about 7 million ranks)."""
    return np.searchsorted(_popularity_cdf(catalogue), rng.random(n), side="right")


@lru_cache(maxsize=8)
def _popularity_cdf(catalogue: int) -> np.ndarray:
    """P(rank ≤ j) for j = 0 … `catalogue` − 2 under Zipf's law (P(rank = j) = (j + 1)^−s / ζ(s), s = `POPULARITY`)."""
    rank = np.arange(1, catalogue, dtype=float)
    return np.cumsum(rank ** -POPULARITY) / _zeta(POPULARITY)


def _zeta(s: float, terms: int = 1_000) -> float:
    """Riemann's ζ(s) for s > 1: `terms` terms and the Euler–Maclaurin remainder (error below 1e-15 at s = 1.3)."""
    head = float(np.sum(np.arange(1, terms, dtype=float) ** -s))
    n = float(terms)
    return head + n ** (1 - s) / (s - 1) + n ** -s / 2 + s * n ** (-s - 1) / 12 - s * (s + 1) * (s + 2) * n ** (-s - 3) / 720


def _after_previous_purchase(account: np.ndarray, event_ms: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Per purchase, the earliest its session may start: `share` of the way from the previous online purchase of the
    day from the same device (`account`: any grouping key) to this one (or any time, for its first) — the customer
    reads the confirmation, goes on; one device never runs two checkouts at once."""
    earliest = np.full(len(account), np.iinfo(np.int64).min // 2)
    order = np.lexsort((event_ms, account))
    later = order[1:][account[order][1:] == account[order][:-1]]  # purchases after one of the same account
    previous = order[:-1][account[order][1:] == account[order][:-1]]
    earliest[later] = event_ms[previous] + np.round((event_ms[later] - event_ms[previous]) * share[later]).astype(
        np.int64)
    return earliest


def _nearest_product(scenario: Scenario, rng: np.random.Generator, merchant: np.ndarray, category: np.ndarray,
                     cents: np.ndarray, catalogue: int, candidates: int = 24) -> np.ndarray:
    """Per order, of `candidates` products drawn by popularity, the one whose price is nearest the order's total
    (on a log scale)."""
    drawn = _products(rng, len(merchant) * candidates, catalogue).reshape(len(merchant), candidates)
    price = catalogue_cents(scenario, np.repeat(category, candidates), np.repeat(merchant, candidates),
                            drawn.ravel()).reshape(drawn.shape)
    distance = np.abs(np.log(price) - np.log(np.maximum(cents, 1))[:, None])
    return drawn[np.arange(len(merchant)), np.argmin(distance, axis=1)] if len(merchant) else np.zeros(0, np.int64)


def catalogue_cents(scenario: Scenario, category: np.ndarray, merchant: np.ndarray, product: np.ndarray) -> np.ndarray:
    """A product's price at a shop (cents, the scenario currency): fixed by the seed, shop and product — its
    category's truncated log-normal at a hashed quantile, most ending in .99 as shelf prices do."""
    u = _hash_uniform(scenario.seed, merchant.astype(np.uint64) * np.uint64(1_000_003) + product.astype(np.uint64))
    raw = price_at(scenario, category, 1.0, u)
    units = np.maximum(np.round(raw).astype(np.int64), 1)
    return units * CENTS - 1  # R49.99


def _hash_uniform(seed: int, keys: np.ndarray) -> np.ndarray:
    """A uniform number in [0, 1) per key: splitmix64 of the key and the seed (stable across numpy versions)."""
    with np.errstate(over="ignore"):
        z = keys + np.uint64(seed % 2**64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)
