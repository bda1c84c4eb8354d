"""The data step: load prompts or preference pairs, map them to canonical columns, sample."""
