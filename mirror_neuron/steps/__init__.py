"""The four experiment steps (model, data, query, analysis); :mod:`.base` holds their contract."""
