"""The one daily calendar every daily asset shares (the baseline and anomaly windows on it are in
`core.timeline` and `quality.anomalies`, which must not import Dagster)."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from fraud_pipeline.scenario import Scenario


def daily_partitions(scenario: Scenario, today: date | None = None) -> dg.DailyPartitionsDefinition:
    """From the scenario's start date to its end date (or open-ended), in the region's time zone.

    Test data is made for any calendar, next year's too: the days up to `end_date` — or, open-ended,
    the first `minimum_days` — can be materialised even before they happen (Dagster offers days that
    have ended, plus `end_offset` more), while an open calendar grows by a day as each day ends.
    """
    today = today or datetime.now(ZoneInfo(scenario.geography.timezone)).date()
    last_ended = today - timedelta(days=1)
    last = scenario.end_date or max(last_ended, scenario.start_date + timedelta(days=scenario.minimum_days - 1))
    end = scenario.end_date + timedelta(days=1) if scenario.end_date else None
    return dg.DailyPartitionsDefinition(start_date=scenario.start_date.isoformat(),
                                        end_date=end.isoformat() if end else None,
                                        end_offset=max(0, (last - last_ended).days),
                                        timezone=scenario.geography.timezone)


def as_days(partition_keys: list[str]) -> list[date]:
    return [date.fromisoformat(key) for key in partition_keys]
