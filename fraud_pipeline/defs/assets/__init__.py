"""The assets of each group (entities, events, fraud, landing, reports) and their shared helpers."""
