"""The 2023 validator's reward: a trlX-style pairwise reward model (Dahoas/gptj-rm-static).

Read in this order: :mod:`.module` (the torch module, its pairwise rule, literal and batched scoring),
:mod:`.batching` (how rows are grouped for the batched path), :mod:`.gptj` (the fused GPT-J forward
it runs), :mod:`.checkpoint` (reading ``hf_ckpt.pt`` safely), :mod:`.texts` (the texts the validator scored and
its difference reward) and :mod:`.reward` (:class:`~.reward.RewardModel`, the registered
``RewardModel`` / ``trlx`` kind).
"""
