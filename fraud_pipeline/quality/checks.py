"""The anomaly manifest's check: its counts equal the labels in the landing rows.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core.findings import Finding, Findings


MANIFEST_CHECK = {"labels_match_the_manifest": "Each anomaly's rows_affected equals the landing rows labelled with "
                                               "its anomaly_id, and no landing row carries an id the manifest lacks."}


def manifest_findings(manifest: pa.Table, landing: dict[str, pa.Table]) -> Findings:
    """The manifest's counts against the labels actually in the landing rows."""
    labelled = {}
    for table in landing.values():
        for entry in pc.value_counts(table["anomaly_id"].drop_null()).to_pylist():
            labelled[entry["values"]] = labelled.get(entry["values"], 0) + entry["counts"]
    recorded = dict(zip(manifest["anomaly_id"].to_pylist(), manifest["rows_affected"].to_pylist()))
    wrong = [i for i in recorded if recorded[i] != labelled.get(i, 0)]
    unknown = [i for i in labelled if i not in recorded]
    return {"labels_match_the_manifest": [
        Finding("rows_affected equals the labelled landing rows", len(wrong), wrong[:5]),
        Finding("every labelled row's anomaly_id is in the manifest", len(unknown), unknown[:5])]}
