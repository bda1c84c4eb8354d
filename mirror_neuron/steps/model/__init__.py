"""Model steps: describe and load a model (the simulated neuron, reward models)."""
