"""Reward models: (prompt, completion) rows -> scores, with every component kept for analysis.

The contract is :class:`~mirror_neuron.neuron.reward.base.RewardModelBase`; each model lives beside it
(``trlx/``: the 2023 validator's; ``logprob``, ``prompt``, ``sequence_classification``, ``reciprocate``, ``length``:
the later validators' scorers and a length bias; ``stack``: their weighted, normalized, filtered sum).
"""
