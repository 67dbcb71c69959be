"""``shiftlab <subcommand> [hydra overrides and flags]``.

The dispatcher imports only the chosen subcommand's Hydra app and hands it the rest of the
command line, so every Hydra override and flag works unchanged (``key=value``, ``+key=``,
``~key``, ``-m``, ``--cfg job``, ``--help``, ``--info``, ``-sc``, ...).
"""

from __future__ import annotations

import difflib
import importlib
import os
import re
import sys

import shiftlab
from shiftlab.cli import quick_help
from shiftlab.cli.errors import run_app
from shiftlab.config.overrides import quoted

# name -> (module holding a Hydra app called `main`, one-line description)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "train": ("shiftlab.cli.train", "fit a model on a dataset, then test its best checkpoint"),
    "eval": ("shiftlab.cli.eval", "test a checkpoint (on its own data or other data)"),
    "predict": ("shiftlab.cli.predict", "run a checkpoint or .onnx model on new files"),
    "export": ("shiftlab.cli.export", "export a checkpoint to ONNX, checked against PyTorch"),
    "report": ("shiftlab.cli.report", "rebuild and print the report of a sweep directory"),
    "serve": ("shiftlab.cli.serve", "serve a checkpoint or .onnx model over HTTP, with a page"),
    "runs": ("shiftlab.cli.runs", "list past and running runs and sweep jobs, newest first"),
    "watch": ("shiftlab.cli.watch", "a live table of the runs sending events to Kafka, Pub/Sub"),
}

# A command whose first argument may be a bare path: `shiftlab report DIR` means
# `shiftlab report sweep_dir='DIR'` (an override, like every other argument).
POSITIONAL: dict[str, str] = {"report": "sweep_dir", "runs": "dir"}

# Flags a command also takes in the usual command-line form: `--status failed` means
# `status=failed` (a flag without a value, `--csv`, means `csv=true`).
FLAGS: dict[str, dict[str, str | None]] = {
    "runs": {"--task-name": "task_name", "--status": "status", "--where": "where",
             "--csv": None, "--limit": "limit"},
}  # fmt: skip

USAGE = """\
usage: shiftlab <command> [overrides ...] [hydra flags ...]

Commands:
{commands}

Each command is a Hydra app: pass overrides such as model=conv_unet optimizer.lr=3e-4,
sweep with -m, print the composed config with --cfg job, and see every config group and
option with `shiftlab <command> --help`.

Options:
  -h, --help     show this message
  -V, --version  print the version
  -sc install=bash
                 print a bash completion script (eval "$(shiftlab -sc install=bash)")

Version {version}."""


def usage() -> str:
    width = max(len(name) for name in SUBCOMMANDS)
    commands = "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in SUBCOMMANDS.items())
    return USAGE.format(commands=commands, version=shiftlab.__version__)


def main(argv: list[str] | None = None) -> None:
    """Run the command; output piped into a reader that stops early (``| head``) ends it
    quietly, as other command-line tools do."""
    try:
        _main(argv)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit must not fail too
        raise SystemExit(141) from None  # 128 + SIGPIPE, as a shell reports it


def _main(argv: list[str] | None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    program = sys.argv[0]
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return
    if args[0] in ("-V", "--version"):
        print(f"shiftlab {shiftlab.__version__}")
        return
    if args[0] in ("-sc", "--shell-completion"):
        _shell_completion(program, args)
        return
    name = args[0]
    if name not in SUBCOMMANDS:
        near = difflib.get_close_matches(name, SUBCOMMANDS, n=1)
        hint = f" Did you mean '{near[0]}'?" if near else ""
        print(
            f"shiftlab: unknown command '{name}'.{hint} Commands: {', '.join(SUBCOMMANDS)}. "
            "Overrides come after the command, e.g. `shiftlab train model=conv_unet`.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    _run(name, program, args[1:])


def _run(name: str, program: str, rest: list[str]) -> None:
    rest = _flags_to_overrides(name, _positional_to_override(name, rest))
    if quick_help.applies(rest) and _print_quick_help(name, rest):
        return
    app = importlib.import_module(SUBCOMMANDS[name][0]).main
    sys.argv = [program, *rest]
    run_app(app, name)


def _print_quick_help(name: str, rest: list[str]) -> bool:
    """Print the command's help the fast way; False when only Hydra's help can show it."""
    text: list[str] = []
    run_app(lambda: text.append(quick_help.help_text(name, rest) or ""), name)
    if text and text[0]:
        print(text[0])
        return True
    return False


def _positional_to_override(name: str, rest: list[str]) -> list[str]:
    key = POSITIONAL.get(name)
    if key is None or not rest or rest[0].startswith("-") or "=" in rest[0]:
        return rest
    return [f"{key}={quoted(rest[0])}", *rest[1:]]


def _flags_to_overrides(name: str, rest: list[str]) -> list[str]:
    flags = FLAGS.get(name, {})
    out: list[str] = []
    args = iter(rest)
    for arg in args:
        flag, _, value = arg.partition("=")
        if flag not in flags:
            out.append(arg)
        elif flags[flag] is None:  # a switch
            out.append(f"{flag.lstrip('-').replace('-', '_')}=true")
        else:
            if not value:
                value = next(args, "")
            out.append(f"{flags[flag]}={quoted(value)}")
    return out


def _shell_completion(program: str, args: list[str]) -> None:
    """Answer Hydra's completion protocol for a multi-command program.

    ``install=bash`` prints Hydra's script (it completes ``shiftlab``). A ``query`` carries the
    whole line in COMP_LINE: while the command word is being typed we complete command names;
    after it, the subcommand's Hydra app answers for the line without the command word.
    """
    line = os.environ.get("COMP_LINE", "")
    query = any(a.startswith("query=") for a in args[1:])
    match = re.match(r"^(\s*\S+\s+)(\S+)(\s.*)?$", line)
    if query and (match is None or match.group(3) is None):
        typed = match.group(2) if match else ""
        print(" ".join(n for n in SUBCOMMANDS if n.startswith(typed)))
        return
    if query and match.group(2) in SUBCOMMANDS:
        os.environ["COMP_LINE"] = match.group(1) + match.group(3).lstrip()
        _run(match.group(2), program, args)
        return
    if query:
        return  # an unknown command word: nothing to complete
    _run(next(iter(SUBCOMMANDS)), program, args)  # install/uninstall: same script for all
