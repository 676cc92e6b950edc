"""The detection scorecard from the command line, for the effective scenario (FRAUD_PIPELINE_SCENARIO, as the
code location reads it).

    python -m fraud_pipeline.detection                # from the stored days (after materialising them)
    python -m fraud_pipeline.detection --simulate     # simulate the days in memory first (writes nothing)
    python -m fraud_pipeline.detection --plot scorecard.png
    python -m fraud_pipeline.detection --simulate --from 2026-12-01   # three weeks later in the year
    python -m fraud_pipeline.detection --aml --simulate --days 120     # the AML scorecard (the whole bank)

Scores the scenario's sample of customers (detection.sample_share; a scenario file with `detection: {sample_share:
1}` scores the whole bank). With --simulate the whole bank is simulated, then sampled.

Prints the scorecard as a Markdown table; exits 1 with a message naming what is missing when the stored
days are not there.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta

import pandas as pd
import pyarrow as pa

from fraud_pipeline.detection.report import ENTITIES, markdown, protocol, run, sample_note, stored
from fraud_pipeline.io.storage import ObjectStore, ScenarioMismatch, TableNotReady
from fraud_pipeline.scenario import ScenarioError, load_scenario


def simulated(scenario, first=None) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    from fraud_pipeline.engine.bank import Bank

    bank = Bank(scenario)
    days = [bank.day(day) for day in protocol(scenario, first).days]
    return (pa.concat_tables([d.transactions for d in days]).to_pandas(),
            pa.concat_tables([d.fraud_transactions for d in days]).to_pandas(),
            {name: bank.entities[name].to_pandas() for name in ENTITIES})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fraud_pipeline.detection", description=__doc__.splitlines()[0])
    parser.add_argument("--simulate", action="store_true", help="simulate the protocol's days in memory")
    parser.add_argument("--plot", metavar="PNG", help="also write the picture to this file")
    parser.add_argument("--from", dest="first", type=date.fromisoformat, metavar="YYYY-MM-DD",
                        help="train on the 14 days from this day and test on the 7 after (with --simulate; default: "
                             "the calendar's start)")
    parser.add_argument("--aml", action="store_true", help="the AML scorecard instead (detection.aml_test_share, "
                        "detection.aml_alerts_per_100k_accounts_month): laundering needs weeks for its reports to "
                        "come in, so give it months (--days)")
    parser.add_argument("--days", type=int, default=None, metavar="N",
                        help="with --aml: the days from --from (default the calendar's start) to score (default 21)")
    args = parser.parse_args(argv)
    if args.days is not None and not args.aml:
        parser.error("--days is for --aml (the card scorecard reads 14 days and tests 7)")
    if args.days is not None and args.days < 2:
        parser.error(f"--days: at least 2 (a day to train on and one to test), got {args.days}")
    if args.aml:
        return _aml(args, parser)
    if args.first is not None and not args.simulate:
        parser.error("--from needs --simulate (the stored scorecard's days are the calendar's first three weeks)")
    try:
        scenario = load_scenario()
        inputs = simulated(scenario, args.first) if args.simulate else stored(
            ObjectStore.of(scenario.storage), scenario)
        found, picture, about = run(scenario, *inputs, first=args.first)
    except (ScenarioError, TableNotReady, ScenarioMismatch, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        if isinstance(error, TableNotReady):
            p = protocol(scenario)
            print(f"the scorecard reads {p.train_first} … {p.test_last}: materialise those days (and the entities) "
                  "first, or pass --simulate", file=sys.stderr)
        return 1
    p = protocol(scenario, args.first)
    print(f"trained on {p.train_first} … {p.train_last} (labels known by {p.cutoff:%Y-%m-%d}), "
          f"tested on {p.test_first} … {p.test_last}\n\n{sample_note(about)}\n")
    print(markdown(found))
    if args.plot:
        with open(args.plot, "wb") as handle:
            handle.write(picture)
    return 0


def _aml(args, parser) -> int:
    from fraud_pipeline.detection import aml_report

    if args.plot:
        parser.error("--plot draws the card scorecard; the AML scorecard prints a table")
    try:
        scenario = load_scenario()
        first, days = args.first or scenario.start_date, args.days or 21
        inputs = aml_report.simulated(scenario, first, days) if args.simulate else aml_report.stored(
            ObjectStore.of(scenario.storage), scenario, first,
            days)
        found, about = aml_report.run(scenario, *inputs, first, first + timedelta(days=days - 1))
    except (ScenarioError, TableNotReady, ScenarioMismatch, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(aml_report.note(about) + "\n")
    print(aml_report.markdown(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
