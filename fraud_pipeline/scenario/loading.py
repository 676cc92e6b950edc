"""Reading a scenario: the YAML file (default, or the one FRAUD_PIPELINE_SCENARIO names), overrides merged by name, and
error messages that name the field and the allowed values.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ValidationError

from fraud_pipeline.scenario.anomalies import ByName
from fraud_pipeline.scenario.base import SCENARIO_ENV, STORAGE_URL_ENV, ScenarioError, Section
from fraud_pipeline.scenario.model import Scenario


DEFAULT_SCENARIO_FILE = Path(__file__).with_name("default_scenario.yaml")


def load_scenario(environ: Mapping[str, str] | None = None) -> Scenario:
    """The effective scenario: defaults, merged with the user's file, then the storage override."""
    environ = os.environ if environ is None else environ
    data = _read_yaml(DEFAULT_SCENARIO_FILE)
    source = str(DEFAULT_SCENARIO_FILE)
    if environ.get(SCENARIO_ENV):
        path = Path(environ[SCENARIO_ENV])
        if not path.is_file():
            raise ScenarioError(f"{SCENARIO_ENV} names {str(path)!r}, which is not a file")
        data = merge_over(Scenario, data, _read_yaml(path))
        source = str(path)
    if environ.get(STORAGE_URL_ENV):
        data = merge_over(Scenario, data, {"storage": {"url": environ[STORAGE_URL_ENV]}})
        source += f" with {STORAGE_URL_ENV}"
    return validate_scenario(data, source)


def validate_scenario(data: Mapping[str, Any], source: str = "scenario") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        lines = [f"  - {_describe(e)}" for e in error.errors()]
        raise ScenarioError(f"Invalid scenario ({source}):\n" + "\n".join(lines)) from None


def with_overrides(scenario: Scenario, overrides: Mapping[str, Any], source: str = "overrides") -> Scenario:
    """`scenario` with `overrides` merged over it the way a user's file is merged over the defaults, validated.
    Raises ScenarioError naming every invalid field."""
    return validate_scenario(merge_over(Scenario, scenario.model_dump(mode="json"), overrides), source)


def merge_over(model: type[BaseModel], base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` over `base`: sections merge key by key; any other value (a table of shares too) is replaced whole.

    Replacing share tables whole means a user who writes `kyc_level: {low: 0.5, high: 0.5}`
    gets exactly that, not a three-way table that no longer sums to 1.
    """
    merged = dict(base)
    for key, value in override.items():
        field = model.model_fields.get(key)
        section = _section_type(_unwrap(field.annotation)) if field else None
        both_mappings = isinstance(value, Mapping) and isinstance(base.get(key), Mapping)
        if section and both_mappings:
            merged[key] = merge_over(section, base[key], value)
        elif field and both_mappings and any(isinstance(m, ByName) for m in field.metadata):
            merged[key] = _merge_by_name(base[key], value)
        else:
            merged[key] = value
    return merged


def _merge_by_name(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Named entries: a new name adds one, a known name is retuned key by key, a null removes it."""
    merged = dict(base)
    for name, entry in override.items():
        if entry is None:
            merged.pop(name, None)
        elif isinstance(entry, Mapping) and isinstance(base.get(name), Mapping):
            merged[name] = {**base[name], **entry}
        else:
            merged[name] = entry
    return merged


def _section_type(annotation: Any) -> type[Section] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, Section) else None


class _ScenarioLoader(yaml.SafeLoader):
    """Safe YAML with dates left as text: pydantic then parses them and names the field on error
    (PyYAML's own date parsing raises a bare ValueError on 2026-13-01)."""


_ScenarioLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(), Loader=_ScenarioLoader)
    except yaml.YAMLError as error:
        raise ScenarioError(f"Invalid scenario ({path}): not valid YAML: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ScenarioError(f"Invalid scenario ({path}): the file must hold a mapping of sections, "
                            f"not a {type(data).__name__}")
    return data


def _describe(error: Mapping[str, Any]) -> str:
    location = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(error["loc"][:-1])
        return f"{location}: unknown key; allowed keys here: {', '.join(allowed)}"
    if error["type"] == "missing":
        return f"{location}: required, missing"
    if error["type"] == "value_error":  # our own validators say what they got, and never echo secrets
        return f"{location}: {error['msg'].removeprefix('Value error, ')}"
    return f"{location}: {error['msg']} (got {error['input']!r})"


def _allowed_keys(location: tuple[Any, ...]) -> list[str]:
    """The field names of the section at `location`, walking sections and named tables."""
    node: Any = Scenario
    for part in location:
        node = _unwrap(node)
        if _section_type(node):
            node = node.model_fields[part].annotation
        elif typing.get_origin(node) is dict:
            node = typing.get_args(node)[1]
    node = _unwrap(node)
    return list(node.model_fields) if _section_type(node) else []


def _unwrap(annotation: Any) -> Any:
    return typing.get_args(annotation)[0] if typing.get_origin(annotation) is Annotated else annotation
