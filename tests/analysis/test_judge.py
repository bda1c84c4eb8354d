"""Analysis verdicts call a target length-driven only when length explains a meaningful share of it, and
name the text they analysed."""

from __future__ import annotations

from mirror_neuron.analysis.judge import MEANINGFUL, Scores, analysed_text, verdict

MODEL, BASELINE = "Ridge on embedding", "completion length"
TEXT = analysed_text(["completion_length"])


def judged(length: Scores, fitted: Scores, gain: Scores) -> tuple[str, str]:
    return verdict("reward", MODEL, BASELINE, "R²", 0.0, fitted, length, gain, TEXT)


def test_length_that_explains_a_tenth_of_the_variance_or_more_is_a_length_verdict() -> None:
    label, sentence = judged(Scores(0.45, 0.38, 0.52), Scores(0.44, 0.36, 0.5), Scores(-0.01, -0.03, 0.01))
    assert label == "length"
    assert sentence == ("Completion length alone explains 45% of the variance of the final reward of each completion "
                        "(R² 0.45 [0.38, 0.52]); Ridge on embedding does no better (R² 0.44 [0.36, 0.50]).")


def test_length_that_explains_2_percent_is_no_finding_even_when_significant() -> None:
    label, sentence = judged(Scores(0.02, 0.01, 0.03), Scores(0.01, -0.01, 0.03), Scores(-0.01, -0.02, 0.0))
    assert label == "unpredictable" and "explains 2%" not in sentence
    assert "completion length's R² 0.02 [0.01, 0.03] is too small to matter (a length finding needs 0.1)" in sentence
    label, sentence = judged(Scores(0.02, 0.01, 0.03), Scores(0.05, 0.02, 0.08), Scores(0.03, -0.01, 0.06))
    assert label == "weak" and "the final reward of each completion" in sentence and "too small" in sentence
    assert MEANINGFUL["R²"] == 0.1


def test_a_model_beyond_length_names_length_only_when_length_matters() -> None:
    label, sentence = judged(Scores(0.03, 0.01, 0.05), Scores(0.4, 0.33, 0.47), Scores(0.37, 0.3, 0.44))
    assert label == "beyond_length" and "alone explains" not in sentence
    assert sentence == ("Ridge on embedding predicts the final reward of each completion better than length: "
                        "R² 0.40 [0.33, 0.47] vs 0.03 for completion length alone.")


def test_the_analysed_text_is_named_from_the_length_features() -> None:
    assert analysed_text(["answer_length"]) == "each answer"
    assert analysed_text(["chosen_length", "rejected_length"]) == "each chosen/rejected pair"
    assert analysed_text(["length_difference"]) == ""
    label, sentence = verdict("correct", "LogisticRegression on embedding", "chosen and rejected lengths", "ROC AUC",
                              0.5, Scores(0.58, 0.52, 0.64), Scores(0.56, 0.51, 0.61), Scores(0.02, -0.02, 0.06),
                              analysed_text(["chosen_length", "rejected_length"]))
    assert label == "weak" and "of each chosen/rejected pair" in sentence and "needs 0.6" in sentence
