"""The executor resource: its defaults come from the environment when the code location loads (so the launchpad shows
them), a run may override them, bad values fail with the same errors as the variables, and an asset receives the
pure `ExecutorSettings` it describes."""

import dagster as dg
import pytest

from fraud_pipeline.defs.resources import ExecutorResource
from fraud_pipeline.engine.executors import ExecutorSettings, settings_from_environment


@dg.asset
def settings_seen(executor: dg.ResourceParam[ExecutorSettings]) -> ExecutorSettings:
    return executor


def materialize(resource: ExecutorResource, run_config: dict | None = None) -> ExecutorSettings:
    result = dg.materialize([settings_seen], resources={"executor": resource}, run_config=run_config,
                            instance=dg.DagsterInstance.ephemeral())
    return result.output_for_node("settings_seen")


@pytest.fixture
def environment(monkeypatch):
    monkeypatch.delenv("FRAUD_PIPELINE_EXECUTOR", raising=False)
    monkeypatch.delenv("FRAUD_PIPELINE_WORKERS", raising=False)
    return monkeypatch


def launchpad_default(resource: ExecutorResource) -> dict:
    """The resource's config as the launchpad pre-fills it."""
    definitions = dg.Definitions(assets=[settings_seen], resources={"executor": resource})
    job = definitions.resolve_implicit_global_asset_job_def()
    return job.run_config_schema.config_type.fields["resources"].config_type.fields["executor"].default_value["config"]


def test_unset_variables_give_in_process_and_leave_the_workers_to_the_run(environment):
    resource = ExecutorResource()
    assert (resource.kind, resource.workers) == ("in_process", None)
    assert materialize(resource) == ExecutorSettings("in_process", None)


def test_the_variables_become_defaults_the_launchpad_shows_and_a_run_overrides(environment):
    environment.setenv("FRAUD_PIPELINE_EXECUTOR", "ray")
    environment.setenv("FRAUD_PIPELINE_WORKERS", "3")
    resource = ExecutorResource()
    assert launchpad_default(resource) == {"kind": "ray", "workers": 3}
    assert materialize(resource) == ExecutorSettings("ray", 3) == settings_from_environment()
    override = {"resources": {"executor": {"config": {"kind": "processes", "workers": 2}}}}
    assert materialize(resource, override) == ExecutorSettings("processes", 2)


@pytest.mark.parametrize("variable, value", [("FRAUD_PIPELINE_EXECUTOR", "dask"), ("FRAUD_PIPELINE_WORKERS", "0")])
def test_a_bad_variable_fails_the_resource_with_the_variables_error(environment, variable, value):
    environment.setenv(variable, value)
    with pytest.raises(ValueError) as from_variable:
        settings_from_environment()
    with pytest.raises(ValueError) as from_resource:
        ExecutorResource()
    assert str(from_resource.value) == str(from_variable.value)


@pytest.mark.parametrize("values", [{"kind": "dask"}, {"workers": 0}, {"workers": True}])
def test_bad_values_in_code_are_refused_with_the_variable_named(environment, values):
    with pytest.raises(ValueError, match="FRAUD_PIPELINE_(EXECUTOR|WORKERS) .* is not allowed"):
        ExecutorResource(**values)


def test_bad_values_in_run_config_fail_the_run_with_the_variable_named(environment):
    with pytest.raises(dg.DagsterResourceFunctionError) as raised:
        materialize(ExecutorResource(), {"resources": {"executor": {"config": {"kind": "threads"}}}})
    assert "FRAUD_PIPELINE_EXECUTOR (the executor's `kind`) = 'threads' is not allowed" in str(raised.value.__cause__)
