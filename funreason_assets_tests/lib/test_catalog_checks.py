"""The tool catalog's checks, each with a passing and a failing input."""

from __future__ import annotations

from funreason_assets.lib.catalog import (
    CATALOG_CHECKS,
    build_catalog,
    catalog_records,
    judge_catalog,
)


def test_the_built_in_catalog_passes_every_check(registry):
    result = build_catalog(registry)
    assert [v.name for v in result.verdicts] == [spec.name for spec in CATALOG_CHECKS]
    assert all(verdict.passed for verdict in result.verdicts)
    assert result.verdict("parameter_schemas_valid").metadata["tools_checked"] == 128
    assert result.verdict("catalog_expectations").metadata["failed"] == []
    assert result.metrics["tools_per_class"]["GorillaFileSystem"] >= 15
    assert len(result.value) == 128


def test_a_duplicate_tool_or_an_undescribed_one_fails_the_expectations(registry):
    records = catalog_records(registry)
    broken = [*records, records[0], records[1].model_copy(update={"description": ""})]
    verdict = judge_catalog(broken).verdict("catalog_expectations")
    assert not verdict.passed
    failed = {(f["expectation"], f["column"]) for f in verdict.metadata["failed"]}
    assert ("expect_column_values_to_be_unique", "tool_key") in failed
    assert ("expect_column_value_lengths_to_be_between", "description") in failed


def test_an_invalid_parameter_schema_fails_with_the_tool_named(registry):
    records = catalog_records(registry)
    bad = records[3].model_copy(update={"parameters": {"type": "object", "properties": 5}})
    not_object = records[4].model_copy(update={"parameters": {"type": "array"}})
    result = judge_catalog([*records[:3], bad, not_object])
    verdict = result.verdict("parameter_schemas_valid")
    assert not verdict.passed
    assert set(verdict.metadata["invalid"]) == {
        f"{bad.class_name}.{bad.name}", f"{not_object.class_name}.{not_object.name}"
    }
    assert verdict.metadata["invalid"][f"{not_object.class_name}.{not_object.name}"] == (
        "top-level type is not object"
    )
    assert result.verdict("catalog_expectations").passed
