"""Files shipped with the package: the built-in data sets."""

from __future__ import annotations

from mirror_neuron.catalogue import Declaration

# name -> (file in this folder, summary)
DATASETS: dict[str, tuple[str, str]] = {
    "prompts": ("prompts.jsonl",
                "small built-in prompt set: questions with reference answers, written for this project"),
}


def datasets() -> list[Declaration]:
    """The built-in data sets as components of the ``dataset`` family (``data[].path: builtin:NAME``)."""
    return [Declaration("dataset", name, file, summary, (), ()) for name, (file, summary) in DATASETS.items()]
