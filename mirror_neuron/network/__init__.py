"""Many validators over one miner population, on a simulated chain (the network step).

- :mod:`.config`: the ``type: network`` model entry (metagraph and miners, validator groups, chain);
- :mod:`.strategies`: validator strategies (copier, cabal, lazy, offline, user code) and what they see;
- :mod:`.honest`: the honest validator, a mirror neuron of its own;
- :mod:`.simulation`: the epoch loop (forward passes, set_weights, commit-reveal, Yuma, emission);
- :mod:`.metrics`: network performance (honest miners' share, the G ratio, consensus spread, F1).
"""
