"""The project's own deprecations fail the tests (pyproject's filterwarnings): a DeprecationWarning or FutureWarning
that pandas or matplotlib attributes to a fraud_pipeline module is an error; one attributed to any other module is
not (Dagster's, pandas' own, the tests')."""

import warnings

import pandas as pd
import pytest

# pandas 3 deprecates Series.dt.weekday (Pandas4Warning, a DeprecationWarning) and attributes the warning to the first
# frame outside pandas: the module that ran this code
WEEKDAY = "import pandas as pd\npd.Series(pd.to_datetime(['2026-01-03'])).dt.weekday\n"


def _run_as(module: str) -> None:
    exec(compile(WEEKDAY, f"{module}.py", "exec"), {"__name__": module})


@pytest.mark.parametrize("module", ["fraud_pipeline", "fraud_pipeline.detection.features"])
def test_a_deprecation_raised_from_the_projects_code_is_an_error(module):
    with pytest.raises(pd.errors.Pandas4Warning, match="Use Series.dt.day_of_week instead"):
        _run_as(module)
    with pytest.raises(FutureWarning, match="soon"):
        warnings.warn_explicit("soon", FutureWarning, f"{module}.py", 1, module=module)


@pytest.mark.parametrize("module", ["fraud_pipeline_tests.test_x", "fraud_pipelines", "pandas_user"])
def test_a_deprecation_raised_elsewhere_is_only_reported(module):
    with warnings.catch_warnings(record=True) as caught:
        _run_as(module)
        warnings.warn_explicit("soon", FutureWarning, f"{module}.py", 1, module=module)
    assert [w.category for w in caught] == [pd.errors.Pandas4Warning, FutureWarning]


def test_the_readmes_pictures_draw_without_a_deprecation(small_scenario):
    """docs_pictures runs outside the pipeline, so no other test meets its pandas and matplotlib calls."""
    from datetime import timedelta

    import pyarrow as pa

    from fraud_pipeline import docs_pictures
    from fraud_pipeline.engine.bank import Bank

    bank = Bank(small_scenario)
    days = [small_scenario.start_date + timedelta(days=offset) for offset in range(7)]
    found = [bank.day(day) for day in days]
    behaviour = docs_pictures.genuine_behaviour(pa.concat_tables([f.transactions for f in found]).to_pandas())
    balances = pd.concat([f.account_balances.select(["account_id", "balance"]).to_pandas().assign(date=day)
                          for f, day in zip(found, days)], ignore_index=True)
    picture = docs_pictures.balance_distribution(balances)
    assert behaviour[:8] == picture[:8] == b"\x89PNG\r\n\x1a\n"
