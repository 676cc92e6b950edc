"""Thin Dagster wrappers: read inputs from storage, call a generator, write, report metadata."""
