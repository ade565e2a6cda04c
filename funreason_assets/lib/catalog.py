"""The tool catalog: one record per tool, and the checks it must pass."""

from __future__ import annotations

from typing import Any

import jsonschema
import pandas as pd
from pydantic import BaseModel, ConfigDict

from funreason_assets.lib.checks import CheckSpec, PhaseResult
from funreason_assets.lib.expectations import Expectation, validate_frame
from funreason_assets.lib.registry import ToolRegistry

CATALOG_EXPECTATIONS_CHECK = CheckSpec(
    "catalog_expectations",
    "Great Expectations: unique class+name, every tool described, valid identifiers.",
    blocking=True,
)
PARAMETER_SCHEMAS_CHECK = CheckSpec(
    "parameter_schemas_valid",
    "Every parameter schema is valid JSON Schema (2020-12).",
    blocking=True,
)
CATALOG_CHECKS = (CATALOG_EXPECTATIONS_CHECK, PARAMETER_SCHEMAS_CHECK)

CATALOG_EXPECTATIONS = (
    Expectation("ExpectColumnValuesToBeUnique", {"column": "tool_key"}),
    Expectation("ExpectColumnValuesToNotBeNull", {"column": "description"}),
    Expectation("ExpectColumnValueLengthsToBeBetween", {"column": "description", "min_value": 1}),
    Expectation("ExpectColumnValuesToNotBeNull", {"column": "class_name"}),
    Expectation("ExpectColumnValuesToMatchRegex", {"column": "name", "regex": r"^[A-Za-z_]\w*$"}),
)


class ToolRecord(BaseModel):
    """One row of the tool catalog."""

    model_config = ConfigDict(frozen=True)

    pack: str
    class_name: str
    name: str
    description: str
    parameters: dict[str, Any]
    returns: dict[str, Any]
    required: list[str]
    parameter_count: int
    value_types: dict[str, dict[str, str]] = {}
    bfcl_doc: dict[str, Any]


def catalog_records(registry: ToolRegistry) -> list[ToolRecord]:
    """Every tool of every registered class, in registry order."""
    return [
        ToolRecord(
            pack=env_class.pack,
            class_name=env_class.name,
            name=tool.name,
            description=tool.description,
            parameters=tool.parameters,
            returns=tool.returns,
            required=list(tool.required),
            parameter_count=len(tool.parameters.get("properties", {})),
            value_types={
                name: {"type": typed.value_type, "reason": typed.reason}
                for name, typed in registry.value_types()[tool.name].items()
            },
            bfcl_doc=tool.bfcl_doc,
        )
        for env_class in registry.classes.values()
        for tool in env_class.tools.values()
    ]


def catalog_frame(records: list[ToolRecord]) -> pd.DataFrame:
    """The scalar columns of the catalog, for tabular expectations and previews."""
    return pd.DataFrame(
        [
            {
                "pack": record.pack,
                "class_name": record.class_name,
                "name": record.name,
                "tool_key": f"{record.class_name}.{record.name}",
                "description": record.description,
                "parameter_count": record.parameter_count,
            }
            for record in records
        ],
        columns=["pack", "class_name", "name", "tool_key", "description", "parameter_count"],
    )


def invalid_parameter_schemas(records: list[ToolRecord]) -> dict[str, str]:
    """Tools whose parameter schema is not valid JSON Schema (2020-12), with the reason."""
    problems = {}
    for record in records:
        try:
            jsonschema.Draft202012Validator.check_schema(record.parameters)
        except jsonschema.SchemaError as exc:
            problems[f"{record.class_name}.{record.name}"] = exc.message
        if record.parameters.get("type") != "object":
            problems[f"{record.class_name}.{record.name}"] = "top-level type is not object"
    return problems


def judge_catalog(records: list[ToolRecord]) -> PhaseResult[list[ToolRecord]]:
    """The catalog with its check verdicts and per-class counts."""
    frame = catalog_frame(records)
    suite = validate_frame(frame, "tool_catalog", list(CATALOG_EXPECTATIONS))
    invalid = invalid_parameter_schemas(records)
    return PhaseResult(
        value=records,
        verdicts=[
            CATALOG_EXPECTATIONS_CHECK.verdict(suite.success, **suite.to_metadata()),
            PARAMETER_SCHEMAS_CHECK.verdict(
                not invalid, tools_checked=len(records), invalid=invalid
            ),
        ],
        metrics={"tools_per_class": frame.groupby("class_name").size().to_dict()},
        tables={"preview": frame.drop(columns=["description"]).head(20).to_dict("records")},
    )


def build_catalog(registry: ToolRegistry) -> PhaseResult[list[ToolRecord]]:
    """Every tool of the registry as a catalog record, judged."""
    result = judge_catalog(catalog_records(registry))
    result.metrics["registry_fingerprint"] = registry.fingerprint()
    return result
