"""``mirror-neuron``: run, sweep, validate, list, report, compare, verify and serve. Parsing only; the work lives
in :mod:`mirror_neuron.runner` (:mod:`mirror_neuron.store` for ``verify``, :mod:`mirror_neuron.serve` for ``serve``).

Heavy libraries are imported inside the commands, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from mirror_neuron import __version__

if TYPE_CHECKING:
    from mirror_neuron.registry import Component

COMMANDS = ("run", "sweep", "validate", "ls", "report", "compare", "verify", "serve")
LS_NAME_WIDTH = 28  # characters of the name column of `ls`


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mirror-neuron",
        description="Tracked, reproducible experiments on a simulated text-prompting validator.")
    parser.add_argument("--version", action="version", version=f"mirror-neuron {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="run an experiment (all steps, or --steps)")
    _add_config(run)
    run.add_argument("--offline", action="store_true", help="track to a local W&B run to `wandb sync` later")
    run.add_argument("--steps", metavar="IDS_OR_KINDS",
                     help="comma-separated step ids or sections (model,data,query,analysis) to run; "
                          "what they require is reused from the store or computed first")
    run.add_argument("--out", type=Path, metavar="DIR", help="where step outputs are linked (default runs/<experiment name>)")
    run.add_argument("--store", type=Path, metavar="DIR",
                     help="content-addressed store of outputs (default $MIRROR_NEURON_STORE or runs/.store)")
    run.add_argument("--force", action="store_true", help="recompute the selected steps even if stored")

    sweep = commands.add_parser("sweep", help="run every point of a sweep (the config's sweep: block, or --grid)")
    _add_config(sweep)
    _add_grid(sweep)
    sweep.add_argument("--offline", action="store_true", help="track to local W&B runs to `wandb sync` later")
    sweep.add_argument("--out", type=Path, metavar="DIR",
                       help="the sweep's folder: points.parquet, report.html, a run folder per point "
                            "(default runs/<sweep name>)")
    sweep.add_argument("--store", type=Path, metavar="DIR",
                       help="content-addressed store of outputs (default $MIRROR_NEURON_STORE or runs/.store)")
    executors = sweep.add_mutually_exclusive_group()
    executors.add_argument("--ray", action="store_true", help="run the points on a local Ray runtime")
    executors.add_argument("--ray-address", metavar="ADDR", help="run the points on an existing Ray cluster")
    sweep.add_argument("--jobs", type=int, metavar="N",
                       help="points at once: local worker processes (with --ray: points in flight; default its CPUs)")

    validate = commands.add_parser("validate", help="check a config (every point of a sweep) without running it")
    _add_config(validate)
    _add_grid(validate)

    ls = commands.add_parser("ls", help="list every registered component with its parameters")
    ls.add_argument("--json", action="store_true", help="the same as JSON: families, components, parameters")

    report = commands.add_parser("report", help="rebuild a run's report.html from its stored outputs")
    report.add_argument("--run", required=True, type=Path, metavar="DIR",
                        help="the run's output folder (holding run.json), e.g. runs/dummy")

    compare = commands.add_parser("compare", help="two runs side by side: config diff, figures and verdicts")
    compare.add_argument("run_a", type=Path, metavar="RUN_A", help="a run's output folder (holding run.json)")
    compare.add_argument("run_b", type=Path, metavar="RUN_B", help="the run to compare it with")
    compare.add_argument("--changed", action="store_true", help="show only the figures and verdicts that differ")

    verify = commands.add_parser("verify", help="check every stored output against its manifest")
    verify.add_argument("--store", type=Path, metavar="DIR",
                        help="the store to check (default $MIRROR_NEURON_STORE or runs/.store)")

    serve = commands.add_parser("serve", help="serve a local model behind the OpenAI-compatible chat completions API")
    serve.add_argument("--model", default="smollm2", metavar="PATH",
                       help="smollm2, tiny:gpt2, a local model folder or .gguf file (default smollm2)")
    serve.add_argument("--name", metavar="NAME", help="the model name requests give (default: --model)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on; 0 picks a free one (default 8000)")
    serve.add_argument("--api-key-env", metavar="NAME", help="require the API key this environment variable holds")
    serve.add_argument("--max-batch", type=int, default=64, metavar="N", help="requests generated together at most")
    serve.add_argument("--threads", type=int, metavar="N", help="CPU threads torch generates with (default: torch's)")
    return parser


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, metavar="FILE", help="experiment YAML")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set data.sample.n=10 (repeatable)")


def _add_grid(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--grid", type=Path, metavar="FILE",
                        help="a sweep block (grid, zip, seeds) over the config, instead of its own sweep: block")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 2
    from mirror_neuron import interrupts
    from mirror_neuron.errors import UserError
    from mirror_neuron.redact import redact

    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")  # `module:attr` components import from the current folder, as with `python -m`
    try:
        with interrupts.watching():  # a KeyboardInterrupt a miner raises is its failed call; Ctrl-C stops the run
            handlers = {"run": _run, "sweep": _sweep, "validate": _validate, "ls": _ls, "report": _report,
                        "compare": _compare, "verify": _verify, "serve": _serve}
            return handlers[args.command](args)
    except UserError as error:
        print(f"mirror-neuron: error: {redact(str(error))}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("mirror-neuron: interrupted; rerun the same command to resume from the last completed chunk",
              file=sys.stderr)
        return 130
    except SystemExit as exit:  # code a config names (a reward model, a filter) called sys.exit()
        print(f"mirror-neuron: error: code the config names called sys.exit({exit.code!r}) during the run; "
              "the run did not finish", file=sys.stderr)
        return 2
    except Exception:  # a bug: its traceback helps, but never with a secret in it
        print(redact(traceback.format_exc()), file=sys.stderr, end="")
        return 1


def _run(args: argparse.Namespace) -> int:
    from mirror_neuron.runner import RunOptions, run_experiment

    result = run_experiment(RunOptions(config=args.config, offline=args.offline, steps=args.steps,
                                       overrides=args.overrides, out=args.out, store=args.store, force=args.force))
    width = max(len(r.id) for r in result.records)
    print(f"{'step':<{width}}  {'status':<8}  rows")
    for record in result.records:
        rows = ", ".join(f"{table}: {count}" for table, count in record.rows.items())
        print(f"{record.id:<{width}}  {record.status:<8}  {rows}")
    print(f"outputs: {result.out}")
    if result.report:
        print(f"report:  {result.report}")
    if result.tracking:
        print(f"tracking: {result.tracking}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from mirror_neuron.sweep.run import SweepOptions, run_sweep

    result = run_sweep(SweepOptions(config=args.config, grid=args.grid, offline=args.offline,
                                    overrides=args.overrides, out=args.out, store=args.store, jobs=args.jobs,
                                    ray=args.ray, ray_address=args.ray_address))
    print(f"points:  {result.out / 'points.parquet'} ({len(result.table)} points, {result.reused} reused whole)")
    print(f"report:  {result.report}")
    if result.tracking:
        print(f"tracking: {result.tracking}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from mirror_neuron.runner import load_experiment, plan
    from mirror_neuron.sweep.spec import has_sweep

    if args.grid is not None or has_sweep(args.config):
        from mirror_neuron.sweep.run import validate_sweep

        sweep, points = validate_sweep(args.config, args.grid, args.overrides)
        print(f"{args.config}: valid (sweep '{sweep.name}': {len(points)} point(s) of "
              f"{len(points[0].steps)} step(s): {', '.join(p.entry.id for p in points[0].steps)})")
        return 0
    experiment = load_experiment(args.config, args.overrides)
    planned = plan(experiment, None)
    print(f"{args.config}: valid ({len(planned)} step(s): {', '.join(p.entry.id for p in planned)})")
    return 0


def _report(args: argparse.Namespace) -> int:
    from mirror_neuron.report import load_run, write_report

    print(f"report:  {write_report(load_run(args.run))}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from mirror_neuron.report import load_run
    from mirror_neuron.report.compare import compare_runs, comparison_text

    print(comparison_text(compare_runs(load_run(args.run_a), load_run(args.run_b)), args.changed), end="")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from mirror_neuron.errors import UserError
    from mirror_neuron.runner import default_store
    from mirror_neuron.store import Store
    from mirror_neuron.verify import problems_text

    root = (args.store or default_store()).resolve()
    if not root.is_dir():
        raise UserError("no such store folder (the --store of `mirror-neuron run`, by default runs/.store)", str(root))
    store = Store(root)
    checked = store.check_all()
    for entry in checked:
        if entry.busy:
            print(f"busy     {entry.path}: being written by another run, not checked")
        elif entry.problems:
            print(f"damaged  {entry.path}: {problems_text(entry.problems)}")
    damaged = sum(bool(entry.problems) for entry in checked)
    verified = sum(not entry.problems and not entry.busy for entry in checked)
    partial = sum(entry.partial and not entry.problems and not entry.busy for entry in checked)
    aside = len(store.set_aside_folders())
    print(f"{root}: {verified} outputs verified ({partial} partial)"
          + (f", {damaged} damaged (a run sets each aside and computes it again)" if damaged else "")
          + (f"; {aside} folder(s) set aside earlier (*.damaged-*)" if aside else ""))
    return 1 if damaged else 0


def _serve(args: argparse.Namespace) -> int:
    import errno
    import os

    from mirror_neuron.errors import UserError
    from mirror_neuron.models.causal_lm import check_model_path
    from mirror_neuron.serve import Batcher, ChatServer, model_generator

    check_model_path(args.model)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    api_key = os.environ.get(args.api_key_env) if args.api_key_env else None
    if args.api_key_env and not api_key:
        raise UserError(f"the environment variable {args.api_key_env} is not set", "--api-key-env")
    generate = model_generator(args.model)
    try:
        server = ChatServer((args.host, args.port), args.name or args.model, Batcher(generate, args.max_batch), api_key)
    except OSError as error:
        taken = error.errno == errno.EADDRINUSE
        raise UserError("the port is in use; pick another" if taken else str(error.strerror or error),
                        f"--port {args.port}") from None
    print(f"serving {args.model} as '{server.name}' at {server.base_url} (OpenAI chat completions); "
          "Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        server.server_close()
    return 0


def _ls(args: argparse.Namespace) -> int:
    import json
    import textwrap

    from mirror_neuron import registry

    if args.json:
        families = [{"family": family, "description": spec.description,
                     "components": [c.as_json() for c in registry.components(family)]}
                    for family, spec in registry.FAMILIES.items()]
        print(json.dumps({"families": families}, indent=2))
        return 0
    width = min(LS_NAME_WIDTH, max(len(_listed_name(component)) for component in registry.components())) + 2
    for family, spec in registry.FAMILIES.items():
        print(f"{family}: {spec.description}")
        found = registry.components(family)
        for component in found:
            name = _listed_name(component)
            if len(name) >= width:  # a long name (with its aliases) gets a line of its own
                print(f"  {name}\n  {'':<{width}}{component.summary}")
            else:
                print(f"  {name:<{width}}{component.summary}")
            if component.params:
                text = "; ".join(str(param) for param in component.params)
                print(textwrap.fill(text, 118, initial_indent=" " * 6, subsequent_indent=" " * 6,
                                    break_on_hyphens=False))
        if not found:
            print("  (none in this release)")
    return 0


def _listed_name(component: Component) -> str:
    """A component's name as `ls` shows it, its aliases in brackets."""
    return f"{component.name} ({', '.join(component.aliases)})" if component.aliases else component.name


if __name__ == "__main__":
    sys.exit(main())
