"""The Dagster layer, and the only one: assets, asset checks, jobs, the schedule, the sensor, partitions and the
store resource. It wires the pure packages beneath it and adds no generation of its own.
"""
