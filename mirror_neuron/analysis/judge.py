"""One sentence per prediction that a person can act on, from the model's and the length baseline's
cross-validated scores and their confidence intervals.

Labels: ``length`` (length alone explains a meaningful share of the target; the model adds nothing
significant), ``beyond_length`` (the model predicts significantly better than length), ``weak`` (the
model predicts a little, not significantly better than length), ``unpredictable`` (neither does
better than chance): the :data:`~mirror_neuron.verdicts.ANALYSIS` vocabulary.

"Meaningful" (:data:`MEANINGFUL`): length's score is at least this far above chance, besides its
interval's lower bound being above chance: R² >= 0.1 (length explains a tenth of the variance or
more), ROC AUC >= 0.6, accuracy 5 points above the majority class. A length baseline that is
significant but smaller (R² 0.02 on thousands of rows) is no finding, so the verdict is then
``weak`` or ``unpredictable`` and the sentence says length's share is too small to matter. Each
sentence names the text it analysed (``of each completion``, ``of each answer``).
"""

from __future__ import annotations

from dataclasses import dataclass

MEANINGFUL = {"R²": 0.1, "ROC AUC": 0.1, "accuracy": 0.05}  # above chance, for length to be a finding

NAMES = {
    "loss": "the pairwise loss",
    "chosen_end_scores": "the chosen end score",
    "rejected_end_scores": "the rejected end score",
    "correct": "whether the chosen answer scores higher",
    "score": "the reward-model score",
    "reward": "the final reward",
    "weight": "the uid's final weight",
    "moving_score": "the uid's moving score",
    "gating_score": "the gating score",
}


def describe_target(name: str) -> str:
    kind, _, component = name.partition(".")
    if component and kind in ("reward_raw", "reward_normalized"):
        return f"reward component '{component}' ({kind.removeprefix('reward_')})"
    return NAMES.get(name, f"'{name}'")


def describe_lengths(features: list[str]) -> str:
    """``["completion_length"]`` -> ``"completion length"``; ``["chosen_length", "rejected_length"]`` ->
    ``"chosen and rejected lengths"``; other features by name."""
    if all(f.endswith("_length") and f.count("_") == 1 for f in features):
        texts = [f.removesuffix("_length") for f in features]
        return " and ".join(texts) + (" lengths" if len(texts) > 1 else " length")
    return ", ".join(features)


def analysed_text(features: list[str]) -> str:
    """The text the length baseline measured, as the sentences name it: ``["completion_length"]`` ->
    ``"each completion"``; ``["chosen_length", "rejected_length"]`` -> ``"each chosen/rejected pair"``;
    empty when the features are not ``<text>_length``."""
    if not features or not all(f.endswith("_length") and f.count("_") == 1 for f in features):
        return ""
    texts = [f.removesuffix("_length") for f in features]
    return f"each {texts[0]}" if len(texts) == 1 else f"each {'/'.join(texts)} pair"


def describe_inputs(inputs: list[str]) -> str:
    """``["a"]`` -> ``"a"``; ``["a", "b", "c"]`` -> ``"a, b and c"``; more than four -> ``"6 inputs"``."""
    if len(inputs) > 4:
        return f"{len(inputs)} inputs"
    return " and ".join([", ".join(inputs[:-1]), inputs[-1]]) if len(inputs) > 1 else "".join(inputs)


@dataclass
class Scores:
    """A cross-validated score (R², or ROC AUC/accuracy for classifiers) with its interval."""

    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.2f} [{self.low:.2f}, {self.high:.2f}]"


def verdict(target: str, model: str, baseline: str, metric: str, chance: float, fitted: Scores, length: Scores,
            gain: Scores, text: str = "") -> tuple[str, str]:
    """(label, sentence) for a model's scores against the length baseline's.

    ``metric`` names the score (``R²``, ``ROC AUC``, ``accuracy``); ``chance`` is what predicting
    nothing scores (0 for R², 0.5 for AUC); ``gain`` is model minus baseline with its paired interval;
    ``text`` the analysed text (:func:`analysed_text`), named after the target.
    """
    what = describe_target(target) + (f" of {text}" if text else "")
    plural = baseline.endswith("lengths")
    if metric == "R²":
        claim = f"{'explain' if plural else 'explains'} {max(length.value, 0) * 100:.0f}% of the variance of {what}"
    else:
        claim = f"{'predict' if plural else 'predicts'} {what}"
    significant = length.low > chance
    meaningful = significant and length.value >= chance + MEANINGFUL.get(metric, 0.0)
    small = (f"; {baseline}'s {metric} {length} is too small to matter (a length finding needs "
             f"{chance + MEANINGFUL.get(metric, 0.0):.2g})") if significant and not meaningful else ""
    if gain.low > 0 and fitted.low > chance:
        tail = f" ({baseline} alone {claim})" if meaningful else ""
        return "beyond_length", (f"{model} predicts {what} better than length: {metric} {fitted} vs "
                                 f"{length.value:.2f} for {baseline} alone{tail}.")
    if meaningful:
        compared = "does worse" if gain.high < 0 else "does no better"
        return "length", f"{_cap(baseline)} alone {claim} ({metric} {length}); {model} {compared} ({metric} {fitted})."
    if fitted.low > chance:
        return "weak", (f"{model} predicts {what} only weakly, no better than {baseline} "
                        f"({metric} {fitted} vs {length.value:.2f}){small}.")
    verb = "predict" if plural else "predicts"
    return "unpredictable", (f"Neither {model} nor {baseline} alone {verb} {what} meaningfully ({metric} {fitted} vs "
                             f"{length}){small}; look for other drivers.")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
