"""The one daily calendar every daily asset shares (the baseline and anomaly windows on it are in
`generators.timeline` and `generators.anomalies`, which must not import Dagster)."""

from datetime import date

import dagster as dg

from fraud_pipeline.scenario import Scenario


def daily_partitions(scenario: Scenario) -> dg.DailyPartitionsDefinition:
    """From the scenario's start date, open-ended, in the region's time zone (a day is a local day)."""
    return dg.DailyPartitionsDefinition(start_date=scenario.start_date.isoformat(),
                                        timezone=scenario.geography.timezone)


def as_days(partition_keys: list[str]) -> list[date]:
    return [date.fromisoformat(key) for key in partition_keys]
