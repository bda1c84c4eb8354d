"""The chain beside the neuron: Yuma consensus epochs, set_weights rules, commit-reveal and emission.

- :mod:`.params`: the subnet's hyperparameters (2023 subnet 1 defaults);
- :mod:`.yuma`: one epoch, batched (``epoch(EpochInputs(...), YumaParams(...)) -> EpochResult``);
- :mod:`.bonds`, :mod:`.matrix`: the versions' bond rules and the epoch's arithmetic;
- :mod:`.weights`: which set_weights calls the chain accepts, and the stored weight rows;
- :mod:`.commit_reveal`: when committed weights become visible;
- :mod:`.emission`: when epochs run and how emission is split;
- :mod:`.monte_carlo`: subtensor's consensus-guarantees Monte Carlo.
"""

from mirror_neuron.chain.params import SUBNET1_2023, ChainParams, WeightRules, YumaParams
from mirror_neuron.chain.yuma import EpochInputs, EpochResult, epoch

__all__ = ["SUBNET1_2023", "ChainParams", "EpochInputs", "EpochResult", "WeightRules", "YumaParams", "epoch"]
