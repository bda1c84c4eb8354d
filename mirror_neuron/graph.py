"""The step graph: ``requires`` links between entries, their order, and step selection."""

from __future__ import annotations

from mirror_neuron.config import SECTIONS, Entry, Experiment
from mirror_neuron.errors import ConfigError, UserError, did_you_mean


def check_requires(experiment: Experiment) -> None:
    """Every ``requires`` names an existing id and the links form no cycle."""
    ids = [entry.id for entry in experiment.entries]
    for entry in experiment.entries:
        for index, required in enumerate(entry.requires):
            if required not in ids:
                hint = did_you_mean(required, ids)
                raise ConfigError(f"requires unknown id '{required}'{hint}",
                                  experiment.where(entry.key_path + ("requires", index)))
            if required == entry.id:
                raise ConfigError("an entry cannot require itself", experiment.where(entry.key_path + ("requires", index)))
    by_id = {entry.id: entry for entry in experiment.entries}
    state: dict[str, str] = {}

    def visit(entry_id: str, trail: list[str]) -> None:
        if state.get(entry_id) == "done":
            return
        if state.get(entry_id) == "open":
            cycle = trail[trail.index(entry_id):] + [entry_id]
            entry = by_id[entry_id]
            raise ConfigError("requires form a cycle: " + " -> ".join(cycle),
                              experiment.where(entry.key_path + ("requires",)))
        state[entry_id] = "open"
        for required in by_id[entry_id].requires:
            visit(required, trail + [entry_id])
        state[entry_id] = "done"

    for entry_id in by_id:
        visit(entry_id, [])


def execution_order(experiment: Experiment, selected: list[Entry]) -> list[Entry]:
    """``selected`` and everything they require, upstream first (config order among equals)."""
    by_id = {entry.id: entry for entry in experiment.entries}
    ordered: list[Entry] = []
    seen: set[str] = set()

    def visit(entry: Entry) -> None:
        if entry.id in seen:
            return
        seen.add(entry.id)
        for required in entry.requires:
            visit(by_id[required])
        ordered.append(entry)

    for entry in selected:
        visit(entry)
    return ordered


def select_steps(experiment: Experiment, steps: str | None) -> list[Entry]:
    """Entries chosen by ``--steps`` (comma-separated ids or section names); all when ``None``."""
    if not steps:
        return list(experiment.entries)
    chosen: list[Entry] = []
    ids = [entry.id for entry in experiment.entries]
    for token in (t.strip() for t in steps.split(",")):
        if not token:
            continue
        if token in SECTIONS:
            matches = [e for e in experiment.entries if e.section == token]
            if not matches:
                raise UserError(f"--steps: the config has no {token} entry")
        elif token in ids:
            matches = [experiment.entry(token)]
        else:
            hint = did_you_mean(token, ids + list(SECTIONS))
            raise UserError(f"--steps: '{token}' is neither a step id nor a section{hint}; ids: {', '.join(ids)}")
        chosen.extend(m for m in matches if m not in chosen)
    return chosen
