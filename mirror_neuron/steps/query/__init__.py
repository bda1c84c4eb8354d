"""Query steps: run a model over the data and store what it produced."""
