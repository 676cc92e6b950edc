"""The one daily calendar every daily asset shares, and the windows of the scenario on it."""

from datetime import date, timedelta

import dagster as dg

from fraud_pipeline.scenario import Scenario

BASELINE_DAYS = 14


def daily_partitions(scenario: Scenario) -> dg.DailyPartitionsDefinition:
    """From the scenario's start date, open-ended, in the region's time zone (a day is a local day)."""
    return dg.DailyPartitionsDefinition(start_date=scenario.start_date.isoformat(),
                                        timezone=scenario.geography.timezone)


def baseline_days(scenario: Scenario) -> list[date]:
    return [scenario.start_date + timedelta(days=i) for i in range(BASELINE_DAYS)]


def as_days(partition_keys: list[str]) -> list[date]:
    return [date.fromisoformat(key) for key in partition_keys]
