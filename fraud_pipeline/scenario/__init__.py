"""The scenario: one YAML file (`default_scenario.yaml`, or the one FRAUD_PIPELINE_SCENARIO names) validated into
a model, one module per section. The names below are the public API; the sections' own names are imported from
their modules."""

from fraud_pipeline.scenario.base import SCENARIO_ENV, ScenarioError
from fraud_pipeline.scenario.loading import load_scenario, validate_scenario, with_overrides
from fraud_pipeline.scenario.model import Scenario

__all__ = ["SCENARIO_ENV", "Scenario", "ScenarioError", "load_scenario", "validate_scenario", "with_overrides"]
