"""The catalogue: every registered component imports, builds with tiny defaults, and is listed as declared."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from mirror_neuron import registry
from mirror_neuron.errors import UserError
from mirror_neuron.steps.base import Step, StepContext
from mirror_neuron.yaml_source import YamlSource
from tests.conftest import REPO, run_cli

COMPONENTS = registry.components()

# Parameters a component needs beyond its defaults to build (tiny models, the smallest valid settings).
BUILD_PARAMS: dict[tuple[str, str], dict[str, Any]] = {
    ("reward", "RewardStack"): {"scorers": {"constant": {"type": "ConstantRewardModel"}}},
    ("reward", "PromptRewardModel"): {"path": "tiny:gpt2"},
    ("behaviour", "lm"): {"path": "tiny:gpt2"},
    ("behaviour", "endpoint"): {"url": "http://127.0.0.1:8000/v1", "model": "smollm2"},
    ("model", "reward_model"): {"path": "tiny:gptj"},
    ("data", "Dataset"): {"path": "builtin:prompts"},
    ("filter", "ov_relevance"): {"bert": "minilm", "mpnet": "minilm"},
    ("filter", "ov_diversity"): {"model": "minilm"},
    ("filter", "nsfw"): {"path": "tiny:gpt2"},
}


def test_the_catalogue_lists_every_family_and_no_name_twice() -> None:
    assert {c.family for c in COMPONENTS} == set(registry.FAMILIES)
    names = [(c.family, name) for c in COMPONENTS for name in (c.name, *c.aliases)]
    assert len(names) == len(set(names))


def test_reading_the_catalogue_imports_nothing_heavy() -> None:
    import subprocess

    code = ("import sys; from mirror_neuron import registry; registry.components(); "
            "print(sorted(m for m in ('torch', 'transformers', 'pandas', 'numpy', 'sklearn') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: f"{c.family}:{c.name}")
def test_every_component_imports_and_builds_with_tiny_settings(component: registry.Component,
                                                                 tmp_path: Path) -> None:
    if component.family == "dataset":
        from mirror_neuron.steps.data.sources import builtin_path

        assert builtin_path(component.name).is_file()
        return
    target = component.load()
    assert target is not None
    params = BUILD_PARAMS.get((component.family, component.name), {})
    built = _build(component, target, params, tmp_path)
    assert built is not None


@pytest.mark.parametrize("component", [c for c in COMPONENTS if c.family not in ("dataset", "feature")],
                         ids=lambda c: f"{c.family}:{c.name}")
def test_listed_parameters_are_the_imported_ones(component: registry.Component) -> None:
    """What `ls` reads from the source agrees with the imported object: names, order, which are required,
    and every literal default."""
    model = registry.params_model(component)
    assert issubclass(model, BaseModel)
    runtime = {field.alias or name: field for name, field in model.model_fields.items()}
    assert [p.name for p in component.params] == list(runtime)
    for param in component.params:
        field = runtime[param.name]
        assert param.required == field.is_required(), param.name
        is_literal, value = param.literal_default()
        if is_literal:
            assert field.get_default(call_default_factory=True) == value, param.name


def test_parameters_are_validated_by_their_model() -> None:
    model = registry.params_model(registry.get("reward", "ConstantRewardModel"))
    assert model.model_validate({"value": 2}).value == 2.0
    with pytest.raises(ValueError, match="valeu"):
        model.model_validate({"valeu": 2})


def test_aliases_and_did_you_mean() -> None:
    assert registry.get("reward", "trlx").name == "RewardModel"
    with pytest.raises(UserError, match="did you mean 'echo'"):
        registry.get("behaviour", "ecko")


def test_ls_prints_each_component_with_its_parameters() -> None:
    result = run_cli("ls")
    assert result.returncode == 0, result.stderr
    listed = " ".join(result.stdout.split())  # parameter lines wrap at the terminal's width
    assert "DummyDendritePool" in listed
    assert "length_padder" in listed and "words: PositiveInt (limit words) = " in listed
    assert "value: float = 1.0" in listed  # ConstantRewardModel's parameter


def test_ls_json_gives_the_same_catalogue() -> None:
    result = run_cli("ls", "--json")
    assert result.returncode == 0, result.stderr
    families = json.loads(result.stdout)["families"]
    listed = {(f["family"], c["name"]) for f in families for c in f["components"]}
    assert listed == {(c.family, c.name) for c in COMPONENTS}
    constant = next(c for f in families for c in f["components"] if c["name"] == "ConstantRewardModel")
    assert constant["params"] == [{"name": "value", "type": "float", "required": False, "default": 1.0,
                                   "default_text": "1.0"}]


def _build(component: registry.Component, target: Any, params: dict[str, Any], tmp_path: Path) -> Any:
    family = component.family
    if family in ("model", "data", "query", "analysis"):
        assert isinstance(target, type) and issubclass(target, Step)
        config = target.config_class.model_validate({"id": "x", **params})
        context = StepContext(seed=0, config_dir=REPO, source=YamlSource("test.yml", {}, {}), key_path=())
        return target(config, context)
    if family == "behaviour":
        return target(**params)
    if family == "gating":
        return target(n_uids=4, seed=0, **params)
    if family == "reward":
        return target(seed=0, **params)
    if family == "filter":
        if "embedder" in registry.FAMILIES["filter"].supplied and _takes(target, "embedder"):
            from mirror_neuron.models.embeddings import SentenceEmbedder

            params = {"embedder": SentenceEmbedder("minilm"), **params}
        return target(**params)
    if family == "dendrite":
        return target([], seed=0)
    if family in ("feature", "transform"):
        assert callable(target)
        return target
    if family == "validator_strategy":
        return target(**({"targets": ["honest"]} if component.name == "cabal" else params))
    raise AssertionError(f"no build rule for family {family}")


def _takes(target: Any, name: str) -> bool:
    import inspect

    return name in inspect.signature(target).parameters


def test_parameters_are_checked_by_name_before_anything_is_imported() -> None:
    padder = registry.get("behaviour", "length_padder")
    registry.check_params(padder, {"words": 50})
    with pytest.raises(registry.ParamError, match="did you mean 'words'") as error:
        registry.check_params(padder, {"wrods": 50})
    assert error.value.key == "wrods"
    with pytest.raises(UserError, match="cannot import 'my_pkg.miners'"):  # user code is imported and checked
        registry.check_params(registry.get("behaviour", "my_pkg.miners:Anything"), {"whatever": 1})


def test_a_part_s_parameters_are_validated_by_type_when_it_is_built() -> None:
    from mirror_neuron.neuron.config import NeuronConfig, PartConfig, build_gating

    config = NeuronConfig(gating=PartConfig(type="ConstantGatingModel", value="high"))
    with pytest.raises(UserError, match=r"gating 'ConstantGatingModel': value: Input should be a valid number"):
        build_gating(config, 4, 0)
    assert build_gating(NeuronConfig(gating=PartConfig(type="ConstantGatingModel", value=2)), 4, 0).value == 2
