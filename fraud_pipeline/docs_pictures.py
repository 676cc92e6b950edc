"""The README's pictures of the data, regenerated from the default scenario (pure pipeline, nothing stored):

    python -m fraud_pipeline.docs_pictures [--days 28] [--balance-days 90] [--out docs]

- genuine_behaviour.png: hourly profile per channel, weekly rhythm per channel, amount per category;
- balances_a_year.png: the distribution of salary-account balances day by day over a year (no drift).
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from fraud_pipeline.core import plots
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.scenario import load_scenario

CHANNEL_COLOURS = {"pos": "#4c72b0", "online": "#dd8452", "transfer": "#55a868", "atm": "#c44e52"}
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def genuine_behaviour(transactions: pd.DataFrame) -> bytes:
    """Three panels from genuine customer-initiated payments (purchases, withdrawals, transfers from a device)."""
    t = transactions
    own = t["transaction_type"].isin(["purchase", "withdrawal"]) | ((t["transaction_type"] == "transfer")
                                                                   & t["device_id"].notna())
    rows = t[own & (t["direction"] == "debit")]
    fig, axes = plots.figure(12, 3.6, 1, 3)
    hourly = pd.crosstab(rows["event_time"].dt.hour, rows["channel"], normalize="columns") * 100
    for channel, colour in CHANNEL_COLOURS.items():
        axes[0, 0].plot(hourly.index, hourly[channel], color=colour, label=channel, linewidth=1.6)
    axes[0, 0].axvspan(-0.5, 6.5, color="#eeeeee", zorder=0)
    axes[0, 0].axvspan(21.5, 23.5, color="#eeeeee", zorder=0)
    axes[0, 0].set(title="Hour of day (night shaded)", xlabel="hour", ylabel="% of the channel's payments",
                   xlim=(-0.5, 23.5), xticks=range(0, 24, 3))
    axes[0, 0].legend(loc="upper left")
    day = rows["event_time"].dt.normalize()
    per_day = rows.groupby([day, "channel"]).size().unstack()
    weekly = per_day.groupby(per_day.index.day_of_week).mean()
    weekly = weekly / weekly.mean()
    for channel, colour in CHANNEL_COLOURS.items():
        axes[0, 1].plot(range(7), weekly[channel], color=colour, marker="o", label=channel, linewidth=1.6)
    axes[0, 1].axhline(1.0, color="#999999", linewidth=0.8)
    axes[0, 1].set(title="Weekly rhythm", ylabel="payments ÷ the channel's weekly mean", xticks=range(7))
    axes[0, 1].set_xticklabels(WEEKDAYS)
    purchases = rows[(rows["transaction_type"] == "purchase") & (rows["original_currency"] == "ZAR")]
    order = purchases.groupby("category")["amount"].median().sort_values().index
    data = [np.log10(purchases.loc[purchases["category"] == c, "amount"]) for c in order]
    axes[0, 2].boxplot(data, orientation="horizontal", showfliers=False, widths=0.6)
    axes[0, 2].set_yticks(range(1, len(order) + 1), order)
    axes[0, 2].set_xticks([1, 2, 3, 4], ["R10", "R100", "R1,000", "R10,000"])
    axes[0, 2].set(title="Purchase amount per category", xlabel="amount (log scale; box: quartiles, whiskers: 1.5 IQR)")
    return plots.png(fig)


def balance_distribution(balances: pd.DataFrame) -> bytes:
    """Percentiles of salary accounts' end-of-day balances per day."""
    quantiles = balances.groupby("date")["balance"].quantile([0.1, 0.25, 0.5, 0.75, 0.9]).unstack()
    fig, axes = plots.figure(8, 3.4)
    ax = axes[0, 0]
    days = pd.to_datetime(quantiles.index)
    ax.fill_between(days, quantiles[0.1], quantiles[0.9], color="#c6dbef", label="10th–90th percentile")
    ax.fill_between(days, quantiles[0.25], quantiles[0.75], color="#6baed6", label="25th–75th percentile")
    ax.plot(days, quantiles[0.5], color="#08306b", label="median", linewidth=1.6)
    ax.axhline(0, color="#999999", linewidth=0.8)
    ax.set(title="End-of-day balance of salary accounts (R): paydays lift it, the month spends it, the year holds",
           ylabel="balance (R)")
    ax.yaxis.set_major_formatter(lambda value, _: f"{value:,.0f}")
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
    return plots.png(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--balance-days", type=int, default=365)
    parser.add_argument("--out", default="docs")
    args = parser.parse_args(argv)
    scenario = load_scenario({})
    bank = Bank(scenario)
    transactions, balances = [], []
    salary = bank.entities["accounts"].to_pandas().set_index("account_id")["salary_account"]
    for offset in range(max(args.days, args.balance_days)):
        day = scenario.start_date + timedelta(days=offset)
        found = bank.day(day)
        if offset < args.days:
            transactions.append(found.transactions)
        frame = found.account_balances.select(["account_id", "balance"]).to_pandas()
        balances.append(frame[frame["account_id"].map(salary)].assign(date=day))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "genuine_behaviour.png").write_bytes(genuine_behaviour(pa.concat_tables(transactions).to_pandas()))
    (out / "balances_a_year.png").write_bytes(balance_distribution(pd.concat(balances, ignore_index=True)))


if __name__ == "__main__":
    main()
