"""Pure data generation: numpy and pyarrow, no Dagster. Every function takes the scenario and
what it builds on, and returns Arrow tables that match the schemas in `fraud_pipeline.schemas`."""
