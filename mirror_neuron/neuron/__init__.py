"""The simulated text-prompting validator and its swappable parts.

Parts: :mod:`.metagraph` (the uids), :mod:`.weights` (moving scores and chain weights), and, beside
them, the dendrite pool of miners, gating models and reward models.
"""
