"""fraud_pipeline: a simulated bank as a Dagster code location, for labelled synthetic test data."""
