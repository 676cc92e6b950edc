"""Where tables go: object storage (local or S3) with manifests and writer locks, file formats, retries, and the
dataset card. Pure: the Dagster resource that wraps the store is in `defs`.
"""
