"""Dagster resources and IO managers: the only place settings meet the pipeline."""
