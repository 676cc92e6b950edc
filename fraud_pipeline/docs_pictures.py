"""The README's pictures of the data, regenerated from the default scenario (pure pipeline, nothing stored):

    python -m fraud_pipeline.docs_pictures [--days 28] [--balance-days 90] [--out docs]

- genuine_behaviour.png: hourly profile per channel, weekly rhythm per channel, amount per category;
- balances_a_year.png: the distribution of salary-account balances day by day over a year (no drift);
- aml_cases.png (`--aml`, alone): one plain case of each laundering typology as a small graph — money in from the
  left, the case's account in the middle, money out to the right — from 45 days of the default bank with every
  typology ten times as frequent (`AML_PICTURE_RATE`), so each has a finished case to show.
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core import plots
from fraud_pipeline.core.labels import AML_TYPOLOGIES, NETWORK_TYPOLOGIES
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.scenario import Scenario, load_scenario, with_overrides

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


AML_PICTURE_RATE = 10  # the typologies' rates times this, for the picture alone
NETWORKS = {AML_TYPOLOGIES[t] for t in NETWORK_TYPOLOGIES}  # among our customers and other banks': drawn as graphs
IN_COLOUR, OUT_COLOUR = "#55a868", "#c44e52"


def aml_case_graphs(rows: pd.DataFrame, cases: pd.DataFrame, countries: pd.Series) -> bytes:
    """One panel per typology: its first finished plain case (by case id); a case of one account has it in the
    middle, each party
    that paid in on the left and each that was paid on the right, an arrow per party labelled with the amount, the
    number of rows and the days since the case began; a case among our customers draws its accounts as nodes
    and its transfers as arrows (`_network_panel`). `rows`: the case's labelled rows (card_transactions'
    columns); `cases`: aml_cases rows; `countries`: a beneficiary's country by beneficiary_id."""
    typologies = [name for name in AML_TYPOLOGIES if (cases["typology"] == name).any()]
    fig, axes = plots.figure(13, 3.3 * len(typologies), len(typologies), 1)
    for ax, typology in zip(axes[:, 0], typologies):
        mine = cases[cases["typology"] == typology]
        # among our customers, a case with two of ours and one elsewhere shows both kinds of hop where there is one;
        # a case none of whose rows was declined (a declined hop leaves a member with nothing) where there is one
        both = mine["case_id"].map(mine.groupby("case_id").size()).ge(2) & mine["parameters"].map(
            lambda p: json.loads(p).get("elsewhere", 0) > 0)
        declined = mine["case_id"].isin(rows.loc[rows["status"] != "approved", "aml_case_id"])
        mine = mine.assign(both=~both, declined=declined).sort_values(["stealth", "declined", "both", "case_id",
                                                                       "account_id"])
        case = mine.iloc[0]  # a plain case, or a stealthy one where the days hold no plain one
        case_rows = rows[rows["aml_case_id"] == case["case_id"]]
        start = case_rows["event_time"].min().normalize()
        members = mine[mine["case_id"] == case["case_id"]]
        if typology in NETWORKS:
            _network_panel(ax, typology, case, members, case_rows, start)
            continue
        party = np.where(case_rows["channel"].isin(["atm", "branch"]),
                         np.where(case_rows["direction"] == "credit", "notes in at " + case_rows["channel"],
                                  "notes out at " + case_rows["channel"]) + ", " + case_rows["city"],
                         case_rows["beneficiary_id"].fillna("?").map(lambda b: f"{b} ({countries.get(b, '?')})"))
        flows = case_rows.assign(party=party, day=(case_rows["event_time"] - start).dt.days).groupby(
            ["direction", "party"], sort=True).agg(amount=("amount", "sum"), rows=("amount", "size"),
                                                   first=("day", "min"), last=("day", "max")).reset_index()
        ax.set(xlim=(-1.15, 1.15), ylim=(-1.1, 1.1), xticks=[], yticks=[])
        ax.grid(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        kind = "; stealthy" if case["stealth"] else ""
        ax.set_title(f"{typology}: {case['case_id']} ({case['role']}{kind}; R{case['proceeds']:,.0f} in)", loc="left")
        ax.text(0, 0, f"{case['account_id']}\n{case['role']}", ha="center", va="center",
                bbox={"boxstyle": "round", "facecolor": "#f2f2f2", "edgecolor": "#555555"})
        for direction, x, colour in (("credit", -0.8, IN_COLOUR), ("debit", 0.8, OUT_COLOUR)):
            side = flows[flows["direction"] == direction]
            for y, (_, flow) in zip(np.linspace(0.85, -0.85, len(side)) if len(side) > 1 else [0.0],
                                    side.iterrows()):
                days = f"day {flow['first']}" + (f"–{flow['last']}" if flow["last"] != flow["first"] else "")
                ax.text(x, y, flow["party"], ha="right" if x < 0 else "left", va="center", fontsize=8)
                ends = ((x + 0.02, y), (-0.12, 0.0)) if x < 0 else ((0.12, 0.0), (x - 0.02, y))
                ax.annotate("", xy=ends[1], xytext=ends[0],
                            arrowprops={"arrowstyle": "->", "color": colour, "linewidth": 1.2})
                near = 0.3 if x < 0 else 0.7  # the label near the party's end, clear of the other arrows
                ax.text(ends[0][0] + near * (ends[1][0] - ends[0][0]), ends[0][1] + near * (ends[1][1] - ends[0][1])
                        + 0.07,
                        f"R{flow['amount']:,.0f} ×{flow['rows']}, {days}", ha="center", fontsize=7, color=colour)
    return plots.png(fig)


def _network_panel(ax, typology: str, case: pd.Series, members: pd.DataFrame, rows: pd.DataFrame,
                   start: pd.Timestamp) -> None:
    """A case among our customers and others': its accounts as nodes in the order money reaches them (left to
    right; a member at another bank, as the bank sees it, in a dashed box), an arrow per hop between them (amount,
    day), and the money from and to elsewhere summed per account."""
    approved = rows[rows["status"] == "approved"]
    away = set(json.loads(case["parameters"])["elsewhere_payees"])
    internal = approved[(approved["direction"] == "debit") & approved["counterparty_account_id"].notna()]
    paid_away = approved[(approved["direction"] == "debit") & approved["beneficiary_id"].isin(away)]
    from_away = approved[(approved["direction"] == "credit") & approved["beneficiary_id"].isin(away)]
    hops = pd.concat([
        pd.DataFrame({"account_id": internal["account_id"], "counterparty_account_id":
                      internal["counterparty_account_id"], "amount": internal["amount"],
                      "event_time": internal["event_time"]}),
        pd.DataFrame({"account_id": paid_away["account_id"], "counterparty_account_id": paid_away["beneficiary_id"],
                      "amount": paid_away["amount"], "event_time": paid_away["event_time"]}),
        pd.DataFrame({"account_id": from_away["beneficiary_id"], "counterparty_account_id": from_away["account_id"],
                      "amount": from_away["amount"], "event_time": from_away["event_time"]})])
    hops = hops.assign(day=(hops["event_time"] - start).dt.days).sort_values(
        ["event_time", "account_id", "counterparty_account_id"])
    column = {a: 0 for a in members.loc[members["role"].isin(["placer", "source"]), "account_id"]}
    for _, hop in hops.iterrows():  # in time order: a node sits right of whoever paid it first (a cycle's way back
        to = hop["counterparty_account_id"]  # to its source leaves the source where it was)
        if hop["account_id"] not in column:  # a member elsewhere seen first paying: left of whom it pays, or next
            left = column.get(to, 0) - 1  # (a cycle's way back to its source: the last on the right)
            column[hop["account_id"]] = left if left >= 0 else max(column.values(), default=-1) + 1
        if to not in column:
            column[to] = column.get(hop["account_id"], 0) + 1
    for account in members["account_id"]:
        column.setdefault(account, 0)
    width = max(column.values()) + 1
    x = {a: -0.75 + 1.5 * c / max(width - 1, 1) for a, c in column.items()}
    stacks: dict[int, list[str]] = {}
    for a in sorted(column):
        stacks.setdefault(column[a], []).append(a)
    y = {a: (0.0 if len(stack) == 1 else 0.8 - 1.6 * i / (len(stack) - 1))
         for stack in stacks.values() for i, a in enumerate(stack)}
    role = dict(zip(members["account_id"], members["role"])) | {b: "at another bank" for b in away}
    ax.set(xlim=(-1.15, 1.15), ylim=(-1.1, 1.1), xticks=[], yticks=[])
    ax.grid(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"{typology}: {case['case_id']} ({len(members)} of our accounts, {len(away)} at other banks; "
                 f"R{case['proceeds']:,.0f} in)", loc="left")
    for a in column:
        ax.text(x[a], y[a], f"{a}\n{role[a]}", ha="center", va="center", fontsize=7,
                bbox={"boxstyle": "round", "facecolor": "white" if a in away else "#f2f2f2", "edgecolor": "#555555",
                      "linestyle": "--" if a in away else "-"})
    for _, hop in hops.iterrows():
        a, b = hop["account_id"], hop["counterparty_account_id"]
        bend = 0.35 if x[b] <= x[a] else 0.0  # a way back curves over the others
        ax.annotate("", xy=(x[b], y[b]), xytext=(x[a], y[a]),
                    arrowprops={"arrowstyle": "->", "color": "#4c72b0", "linewidth": 1.0, "shrinkA": 18,
                                "shrinkB": 18, "connectionstyle": f"arc3,rad={bend}"})
        ax.text((x[a] + x[b]) / 2, (y[a] + y[b]) / 2 + 0.06 + (0.5 if bend else 0.0),
                f"R{hop['amount']:,.0f}, day {hop['day']}", ha="center", fontsize=6, color="#4c72b0")
    outside = approved[approved["counterparty_account_id"].isna() & ~approved["beneficiary_id"].isin(away)]
    for direction, dx, colour in (("credit", -0.3, IN_COLOUR), ("debit", 0.3, OUT_COLOUR)):
        for a, flow in outside[outside["direction"] == direction].groupby("account_id"):
            ax.annotate("", xy=(x[a], y[a]) if dx < 0 else (x[a] + dx, y[a] - 0.12),
                        xytext=(x[a] + dx, y[a] - 0.12) if dx < 0 else (x[a], y[a]),
                        arrowprops={"arrowstyle": "->", "color": colour, "linewidth": 1.0, "shrinkA": 4,
                                    "shrinkB": 14})
            days = (flow["event_time"] - start).dt.days
            ax.text(x[a] + dx, y[a] - 0.2, f"R{flow['amount'].sum():,.0f} ×{len(flow)}\n"
                    f"{'from' if dx < 0 else 'to'} elsewhere, day {days.min()}"
                    + (f"–{days.max()}" if days.max() != days.min() else ""),
                    ha="center", va="top", fontsize=6, color=colour)


def aml_picture_scenario(base: Scenario) -> Scenario:
    """`base` with every typology AML_PICTURE_RATE times as frequent; accounts opened to launder come at their share
    of the openings (`aml.new_account` has no rate to multiply)."""
    return with_overrides(base, {"aml": {name: {"cases_per_10k_accounts_month": AML_PICTURE_RATE * getattr(
        base.aml, name).cases_per_10k_accounts_month} for name in AML_TYPOLOGIES if name != "new_account"}})


def _aml_picture(out: Path) -> None:
    """aml_cases.png from 45 days of the default bank with every typology AML_PICTURE_RATE times as frequent."""
    scenario = aml_picture_scenario(load_scenario({}))
    bank = Bank(scenario)
    rows, cases = [], []
    for offset in range(45):
        found = bank.day(scenario.start_date + timedelta(days=offset))
        table = found.transactions
        rows.append(table.filter(pc.is_valid(table["aml_case_id"])))
        cases.append(found.aml_cases)
    rows, cases = pa.concat_tables(rows).to_pandas(), pa.concat_tables(cases).to_pandas()
    last = rows["event_time"].max() - pd.Timedelta(days=1)
    cases = cases[cases["end_time"] < last]  # finished within the days
    beneficiaries = bank.entities["beneficiaries"].select(["beneficiary_id", "country"]).to_pandas()
    (out / "aml_cases.png").write_bytes(aml_case_graphs(rows, cases, beneficiaries.set_index("beneficiary_id")[
        "country"]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--balance-days", type=int, default=365)
    parser.add_argument("--out", default="docs")
    parser.add_argument("--aml", action="store_true", help="draw aml_cases.png alone")
    args = parser.parse_args(argv)
    if args.aml:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        return _aml_picture(Path(args.out))
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
