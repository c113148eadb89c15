"""Pure data code: input contracts, trees, facet search. No Dagster import."""
