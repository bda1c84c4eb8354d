"""Mirror Neuron: tracked, reproducible experiments on a simulated text-prompting validator."""

__version__ = "0.1.0"
