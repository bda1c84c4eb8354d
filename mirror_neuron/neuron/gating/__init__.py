"""Gating models: text -> one score per uid, used to pick whom to query, trained online."""
