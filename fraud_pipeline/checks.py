"""Asset checks: the integrity report of seed 004 (keys and foreign keys) and value ranges, as Dagster checks.

Checks read back what was stored (through the manifest and its checksums), so they verify the
data a user will read, not the data in memory. Key and foreign-key checks are blocking: a
table that breaks them stops its downstream assets in the same run.
"""


import dagster as dg

from fraud_pipeline import quality
from fraud_pipeline.schemas import TableSpec
from fraud_pipeline.storage import ObjectStore


def _result(findings: list[quality.Finding], severity=dg.AssetCheckSeverity.ERROR) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=all(f.passed for f in findings),
        severity=severity,
        description=quality.summary(findings),
        metadata={f.rule: dg.MetadataValue.json({"failing_rows": f.failures, "examples": f.examples})
                  for f in findings},
    )


def table_checks(spec: TableSpec, expectations: dict[str, quality.Expectation]) -> list[dg.AssetChecksDefinition]:
    checks = []

    @dg.asset_check(asset=spec.name, name="primary_key_unique", blocking=True,
                    description=f"{'+'.join(spec.primary_key)} is complete and unique.")
    def primary_key_unique(store: ObjectStore) -> dg.AssetCheckResult:
        table = store.read_table(spec.layer, spec.name, columns=list(spec.primary_key))
        return _result(quality.key_findings(table, spec.primary_key))

    checks.append(primary_key_unique)

    if spec.foreign_keys:
        @dg.asset_check(asset=spec.name, name="foreign_keys_valid", blocking=True,
                        additional_deps=sorted({fk.table for fk in spec.foreign_keys}),
                        description="Every " + ", ".join(f"{fk.column} → {fk.table}.{fk.ref_column}"
                                                         for fk in spec.foreign_keys) + " resolves.")
        def foreign_keys_valid(store: ObjectStore) -> dg.AssetCheckResult:
            table = store.read_table(spec.layer, spec.name, columns=[fk.column for fk in spec.foreign_keys])
            return _result([
                quality.foreign_key_finding(
                    table[fk.column], store.read_table(spec.layer, fk.table, columns=[fk.ref_column])[fk.ref_column],
                    f"{fk.column} → {fk.table}.{fk.ref_column}")
                for fk in spec.foreign_keys
            ])

        checks.append(foreign_keys_valid)

    if expectations:
        @dg.asset_check(asset=spec.name, name="values_in_range",
                        description="Columns hold only values the scenario allows: "
                                    + "; ".join(f"{c} {e}" for c, e in expectations.items()))
        def values_in_range(store: ObjectStore) -> dg.AssetCheckResult:
            table = store.read_table(spec.layer, spec.name, columns=list(expectations))
            return _result(quality.value_findings(table, expectations))

        checks.append(values_in_range)
    return checks
