"""What a purchase costs and what it is for: the category mix and price model of card purchases.

A customer's affluence is their monthly income over the population's reference income. It changes
*what* they buy more than what each thing costs: the category mix tilts towards discretionary
categories (each category's `affluence` elasticity), and the basket grows only gently
(affluence ** `affluence_basket`). Each category's price is log-normal around its median,
bounded by seed 003's price range (so no R12,000 grocery purchase, no R1.3 M electronics purchase
at a till). Price points (.99, .95, .00, .50) come from retail pricing; the rest of the cents are
what a basket of items adds up to.

`avg_spend` is defined by this model: a customer's expected purchase amount (point of sale and
online, scenario currency) on an ordinary day. The data agrees with it within sampling noise.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from fraud_pipeline.core.streams import stream
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.scenario.base import TYPED_LEAST
from fraud_pipeline.scenario.money import MAX_SPEND_SPREAD
from fraud_pipeline.world.layout import Layout

CENTS = 100
ROWS_AT_ONCE = 65_536  # customers whose (customer, category) arrays are worked out together


def activity_level(scenario: Scenario, block: int) -> np.ndarray:
    """How much more often than their budget alone says each customer of block `block` buys (gamma, mean 1). Who
    buys more often buys less each time (`basket_divisor`). Drawn from the block's customers' stream, so the
    customers table (avg_spend) and the daily generator agree."""
    shape = scenario.card_transactions.activity.shape
    first, end = Layout.of(scenario).customer_span(block)
    return stream(scenario.seed, "customers", "activity", block).gamma(shape, 1.0 / shape, end - first)


def basket_divisor(level: np.ndarray) -> np.ndarray:
    """What a customer's basket is divided by at activity `level`: its square root, so spending grows only with
    the root of how often one buys — up to MAX_SPEND_SPREAD times the budget, beyond which baskets shrink in
    proportion (the busiest customers still spend within their income)."""
    level = np.asarray(level, float)
    return np.maximum(np.sqrt(level), level / MAX_SPEND_SPREAD)


def reference_income(scenario: Scenario) -> float:
    """The income of affluence 1 (`Scenario.reference_income`)."""
    return scenario.reference_income


SCALE_STEPS = 30  # fixed-point steps of `volume_scale` (a cap moves it by a few percent: converged in a handful)


def volume_scale(scenario: Scenario) -> float:
    """What incomes are multiplied by so that the population can afford the card purchases the scenario asks for.

    Each customer buys about card_share_of_income × income ÷ avg_spend a month; the purchase volume
    (per_day × the point-of-sale and online shares) fixes how many purchases there are in all. The
    expectation over the income distribution (brackets, occupations, log-normal spread) is taken by
    Gauss–Hermite quadrature, so the scale is a number of the scenario alone. Near 1.3 for the defaults.
    `customers.income_cap` caps the scaled income, so the scale is the fixed point of the capped expectation.
    """
    scale = 1.0
    for _ in range(SCALE_STEPS if scenario.customers.income_cap else 1):
        scale = _scale_given(scenario, scale)
    return scale


def _scale_given(scenario: Scenario, scale: float) -> float:
    """The volume scale when incomes are capped at `income_cap` ÷ `scale` before scaling."""
    c = scenario.customers
    nodes, weights = np.polynomial.hermite_e.hermegauss(24)
    weights = weights / weights.sum()
    expected = 0.0
    for bracket, bracket_share in c.income_bracket.items():
        for occupation, occupation_share in c.occupation.items():
            raw = np.minimum(c.monthly_income[bracket].median * c.income_factor.get(occupation, 1.0) * np.exp(
                c.monthly_income[bracket].sigma * nodes), c.income_cap.get(occupation, np.inf) / scale)
            purchases = raw / expected_purchase(scenario, np.maximum(raw, 1.0) / reference_income(scenario))
            expected += bracket_share * occupation_share * float((weights * purchases).sum())
    t = scenario.card_transactions
    wanted = t.per_day * 365.25 / 12 * (t.channels.get("pos", 0.0) + t.channels.get("online", 0.0))
    affordable = scenario.money.card_share_of_income * scenario.population.customers * expected
    return wanted / affordable if wanted > 0 and affordable > 0 else 1.0  # no purchases: incomes as drawn


def category_weights(scenario: Scenario, affluence: np.ndarray) -> np.ndarray:
    """(customers, categories) purchase shares: seed 003's shares tilted by affluence, each row summing to 1."""
    categories = scenario.merchants.categories.values()
    share = np.array([c.share for c in categories])
    elasticity = np.array([c.affluence for c in categories])
    weights = share[None, :] * np.asarray(affluence, float)[:, None] ** elasticity[None, :]
    return weights / weights.sum(axis=1, keepdims=True)


def basket(scenario: Scenario, affluence: np.ndarray) -> np.ndarray:
    """How much bigger than the median customer's a customer's purchases are."""
    return np.asarray(affluence, float) ** scenario.card_transactions.affluence_basket


def price_bounds(scenario: Scenario) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per category, in the scenario currency: lowest and highest price, median and log-sigma."""
    unit = scenario.card_transactions.reference_unit_value
    c = list(scenario.merchants.categories.values())
    return (np.array([x.min_price for x in c]) * unit, np.array([x.max_price for x in c]) * unit,
            np.array([x.median_price for x in c]) * unit, np.array([x.price_sigma for x in c]))


def expected_price(scenario: Scenario, scale: np.ndarray) -> np.ndarray:
    """(rows, categories): the mean of each category's truncated log-normal price, its median scaled by `scale`.

    E[Y | a ≤ Y ≤ b] for log-normal Y = exp(μ + σ²/2)·(Φ(z_b − σ) − Φ(z_a − σ)) / (Φ(z_b) − Φ(z_a)), in closed
    form; where the bounds hold almost none of the distribution, the nearer bound.
    """
    low, high, median, sigma = price_bounds(scenario)
    mu = np.log(median[None, :] * np.asarray(scale, float)[:, None])
    s = np.maximum(sigma[None, :], 1e-9)
    z_low, z_high = (np.log(low) - mu) / s, (np.log(high) - mu) / s
    mass = ndtr(z_high) - ndtr(z_low)
    inside = np.exp(mu + s**2 / 2) * (ndtr(z_high - s) - ndtr(z_low - s)) / np.maximum(mass, 1e-300)
    return np.where(mass > 1e-12, inside, np.where(z_high < 0, high, low))


def expected_purchase(scenario: Scenario, affluence: np.ndarray) -> np.ndarray:
    """avg_spend: each customer's expected purchase amount under their category mix and basket.

    A customer's amount is their row alone: rows are taken `ROWS_AT_ONCE` at a time, so the (rows, categories)
    working arrays stay tens of MB at any number of customers (all at once: 3 GB at 2 million)."""
    affluence = np.asarray(affluence, float)
    amount = np.empty(len(affluence))
    for start in range(0, len(affluence), ROWS_AT_ONCE):
        part = affluence[start:start + ROWS_AT_ONCE]
        amount[start:start + ROWS_AT_ONCE] = (category_weights(scenario, part) * expected_price(
            scenario, basket(scenario, part))).sum(axis=1)
    return amount


def prices(scenario: Scenario, rng: np.random.Generator, category: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """One price per row (scenario currency, exact cents): its category's log-normal truncated to the category's
    bounds, median × `scale`, a share of them moved to a price point."""
    low, high, _, _ = price_bounds(scenario)
    n = len(category)
    raw = price_at(scenario, category, scale, rng.random(n))
    cents = np.round(np.clip(raw, low[category], high[category]) * CENTS).astype(np.int64)
    points = np.array([c.price_points for c in scenario.merchants.categories.values()])[category]
    pointed = price_point(scenario, rng, cents, rng.random(n) < points)
    return np.clip(pointed, np.round(low * CENTS).astype(np.int64)[category], np.round(high * CENTS).astype(np.int64)[category])


def price_at(scenario: Scenario, category: np.ndarray, scale, quantile: np.ndarray) -> np.ndarray:
    """The price (scenario currency, unrounded) at `quantile` (in [0, 1)) of each row's category's log-normal,
    median × `scale`, truncated to the category's bounds — truncated, not clipped: no pile of prices at a floor
    or cap."""
    low, high, median, sigma = price_bounds(scenario)
    if np.ndim(scale) == 0:  # one scale for all rows: the bounds' quantiles per category, then per row (the same
        # numbers, a few dozen ndtr calls instead of two a row: the clickstream prices 24 candidates an order)
        mu = np.log(median * scale)
        cdf_low, cdf_high = _bounds_cdf(low, high, mu, sigma)
        mu, s, cdf_low, cdf_high = mu[category], sigma[category], cdf_low[category], cdf_high[category]
    else:
        mu, s = np.log(median[category] * scale), sigma[category]
        cdf_low, cdf_high = _bounds_cdf(low[category], high[category], mu, s)
    return np.exp(mu + s * ndtri(np.clip(cdf_low + quantile * (cdf_high - cdf_low), 1e-15, 1 - 1e-15)))


def _bounds_cdf(low: np.ndarray, high: np.ndarray, mu: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where `low` and `high` lie on the cumulative distribution of the log-normal(`mu`, `s`)."""
    return ndtr((np.log(low) - mu) / s), ndtr((np.log(high) - mu) / s)


def price_point(scenario: Scenario, rng: np.random.Generator, cents: np.ndarray, at_point: np.ndarray) -> np.ndarray:
    """`cents` where `at_point` moved to the nearest whole unit below or above, then given a price-point ending."""
    endings = scenario.merchants.price_endings
    ending = np.round(np.array([float(e) for e in endings]) * CENTS).astype(np.int64)
    pick = rng.choice(len(ending), size=len(cents), p=np.array(list(endings.values())))
    units = np.maximum(np.round(cents / CENTS).astype(np.int64), 1)
    # .99 and .95 sit just under a whole unit (R49.99), .00 and .50 on or half past it
    pointed = np.where(ending[pick] >= 90, (units - 1) * CENTS + ending[pick], units * CENTS + ending[pick])
    return np.where(at_point & (pointed > 0), pointed, cents)


TYPED_STEPS = np.array([10_000, 5_000, 1_000, 1])  # cents: to R100, R50, R10, or exact
TYPED_SHARES = np.array([0.40, 0.20, 0.20, 0.20])  # assumption: people type round amounts for transfers


def typed_amount(rng: np.random.Generator, cents: np.ndarray, least: int = round(TYPED_LEAST * CENTS)) -> np.ndarray:
    """Transfer amounts as people type them: mostly rounded to R100, R50 or R10, some exact to the cent; at
    least `least` cents. The same rule for every transfer, genuine or fraudulent."""
    return typed_from(rng.random(len(cents)), cents, least)


def typed_from(u: np.ndarray, cents: np.ndarray, least: int = round(TYPED_LEAST * CENTS)) -> np.ndarray:
    """`typed_amount` with the draw that picks each amount's rounding given (`u`, uniform in [0, 1))."""
    step = _step(u)
    rounded = np.round(np.asarray(cents, float) / step) * step
    return np.maximum(rounded, least).astype(np.int64)


def typed_at_most(u: np.ndarray, cents: np.ndarray) -> np.ndarray:
    """`typed_from`'s rounding taken down, so an amount typed is never more than `cents` (what is passed on was
    received): round as often as `typed_from`'s; an amount below its step is paid to the cent (int64 cents)."""
    cents, step = np.asarray(cents, float), _step(u)
    down = np.floor(cents / step) * step
    return np.where(down > 0, down, np.floor(cents)).astype(np.int64)


def _step(u: np.ndarray) -> np.ndarray:
    """The rounding each draw `u` picks (TYPED_STEPS by TYPED_SHARES), in cents."""
    return TYPED_STEPS[np.minimum(np.searchsorted(np.cumsum(TYPED_SHARES), u, side="right"), len(TYPED_STEPS) - 1)]
