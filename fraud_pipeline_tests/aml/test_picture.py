"""The README's picture of one case per typology (`docs_pictures.aml_case_graphs`): drawn from the busy small bank's
cases without a deprecation (the test run turns the project's warnings into errors), the same bytes every time."""

from fraud_pipeline import docs_pictures
from fraud_pipeline.core.labels import AML_TYPOLOGIES
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline_tests.aml.conftest import cases_over, laundering_rows


def test_one_case_of_each_typology_draws_the_same_picture_twice(busy, days):
    rows, cases = days
    countries = Bank(busy).entities["beneficiaries"].select(["beneficiary_id", "country"]).to_pandas().set_index(
        "beneficiary_id")["country"]
    done = cases_over(cases)
    first = docs_pictures.aml_case_graphs(laundering_rows(rows), done, countries)
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    assert docs_pictures.aml_case_graphs(laundering_rows(rows), done, countries) == first


def test_the_picture_s_bank_has_every_typology_with_a_rate_ten_times_as_frequent(scenario):
    """`docs_pictures --aml`'s scenario: it once multiplied a rate `aml.new_account` no longer has, and failed."""
    busier = docs_pictures.aml_picture_scenario(scenario)
    for name in AML_TYPOLOGIES:
        if name == "new_account":  # a share of the openings, as it was
            assert busier.aml.new_account == scenario.aml.new_account
        else:
            assert getattr(busier.aml, name).cases_per_10k_accounts_month == \
                docs_pictures.AML_PICTURE_RATE * getattr(scenario.aml, name).cases_per_10k_accounts_month
