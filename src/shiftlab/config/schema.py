"""The schema of the configs shiftlab owns, checked at launch before torch is imported.

Hydra already refuses unknown keys and unknown options (the CLI adds "did you mean");
this module checks the values: their types, their ranges, values that must agree with each
other, and the files a run needs. A failure names the key, what it holds and what would
work, so a typo costs a second instead of a run that dies minutes later.

The rules are a table (:data:`RULES`): a key pattern (``fnmatch`` over dotted keys, so
``callbacks.*.patience`` covers every callback) and what its value must be. Keys a config
does not have are not checked: each rule applies to the options that use that key.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError

from shiftlab.config.choices import chosen_option
from shiftlab.errors import ConfigError

Check = Callable[[Any], bool]


@dataclass(frozen=True)
class Rule:
    """What the value under a key must be: ``check`` passes, described by ``expected``;
    ``example`` is a valid value to show in the message."""

    pattern: str
    expected: str
    check: Check
    example: str


def _integer(low: int | None = None) -> Check:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and (low is None or v >= low)


def _number(low: float | None = None, high: float | None = None, strict: bool = False) -> Check:
    def check(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return False
        if low is not None and (v <= low if strict else v < low):
            return False
        return high is None or v < high

    return check


def _optional(check: Check) -> Check:
    return lambda v: v is None or check(v)


def _one_of(*values: Any) -> Check:
    return lambda v: v in values


def _devices(v: Any) -> bool:
    if v == "auto" or (_integer(-1)(v) and v != 0):
        return True
    return isinstance(v, (list, tuple)) and bool(v) and all(_integer(0)(d) for d in v)


PRECISIONS = ("32-true", "32", "16-mixed", "bf16-mixed", "bf16-true", "16-true", "64-true")
COUNT, AT_LEAST_1, AT_LEAST_0 = "an integer ≥ 1", _integer(1), _integer(0)

RULES: tuple[Rule, ...] = (
    Rule("seed", "an integer or null", _optional(_integer()), "42"),
    Rule("threads", "null or an integer ≥ 1", _optional(AT_LEAST_1), "2"),
    Rule("keep_freed_memory", "true or false", lambda v: isinstance(v, bool), "true"),
    Rule("optimizer.lr", "a number > 0", _number(0, strict=True), "1e-3"),
    Rule("optimizer.weight_decay", "a number ≥ 0", _number(0), "1e-4"),
    Rule("optimizer.momentum", "a number in [0, 1)", _number(0, 1), "0.9"),
    Rule("data.batch_size", COUNT, AT_LEAST_1, "16"),
    Rule("data.eval_batch_size", COUNT, AT_LEAST_1, "32"),
    Rule("data.num_workers", "null or an integer ≥ 0", _optional(AT_LEAST_0), "2"),
    Rule("data.num_train", COUNT, AT_LEAST_1, "512"),
    Rule("data.num_val", COUNT, AT_LEAST_1, "64"),
    Rule("data.num_test", COUNT, AT_LEAST_1, "64"),
    Rule("data.*_fraction", "a number in [0, 1)", _number(0, 1), "0.1"),
    Rule("data.min_frames", COUNT, AT_LEAST_1, "48"),
    Rule("data.max_frames", COUNT, AT_LEAST_1, "160"),
    Rule("data.freq_bins", "null or an integer ≥ 1", _optional(AT_LEAST_1), "256"),
    Rule("data.in_channels", COUNT, AT_LEAST_1, "3"),
    Rule("data.sample_rate", "an integer ≥ 1000 (Hz)", _integer(1000), "16000"),
    Rule("data.n_fft", "an integer ≥ 4", _integer(4), "510"),
    Rule("data.hop_length", COUNT, AT_LEAST_1, "128"),
    Rule("data.segment_frames", COUNT, AT_LEAST_1, "64"),
    Rule("data.crops_per_item", COUNT, AT_LEAST_1, "4"),
    Rule("data.allow_pickle", "true or false", lambda v: isinstance(v, bool), "false"),
    Rule("data.normalize_on_device", "true or false", lambda v: isinstance(v, bool), "true"),
    Rule("data.decoded_cache", "true or false", lambda v: isinstance(v, bool), "true"),
    Rule("data.num_classes", "null or an integer ≥ 1", _optional(AT_LEAST_1), "4"),
    Rule("data.num_folds", "null (no folds) or an integer ≥ 2", _optional(_integer(2)), "5"),
    Rule("data.fold", "an integer ≥ 0 (below data.num_folds)", AT_LEAST_0, "0"),
    Rule("task.monitor_mode", "'min' or 'max'", _one_of("min", "max"), "min"),
    Rule("trainer.max_epochs", "-1 (no limit) or an integer ≥ 1", _integer(-1), "20"),
    Rule("trainer.min_epochs", "null or an integer ≥ 0", _optional(AT_LEAST_0), "1"),
    Rule("trainer.devices", "'auto', a count (-1: all) or a list of ids", _devices, "2"),
    Rule("trainer.num_nodes", COUNT, AT_LEAST_1, "2"),
    Rule(
        "trainer.precision",
        "one of " + ", ".join(PRECISIONS),
        _one_of(*PRECISIONS, 16, 32, 64),
        "bf16-mixed",
    ),
    Rule("trainer.accumulate_grad_batches", COUNT, AT_LEAST_1, "4"),
    Rule("trainer.gradient_clip_val", "null or a number ≥ 0", _optional(_number(0)), "1.0"),
    Rule("trainer.log_every_n_steps", COUNT, AT_LEAST_1, "10"),
    Rule("trainer.check_val_every_n_epoch", COUNT, AT_LEAST_1, "1"),
    Rule("callbacks.*.patience", "an integer ≥ 0", AT_LEAST_0, "10"),
    Rule("callbacks.*.save_top_k", "an integer ≥ -1 (-1: all)", _integer(-1), "1"),
)

# Files and folders a run reads: each must exist when set.
PATH_KEYS = (
    "data.root",
    "data.images_dir",
    "data.csv_path",
    "data.train_data_path",
    "data.segmented_data_path",
    "data.inputs",
    "data.targets",
    "data.test_inputs",
    "data.test_targets",
)


def validate(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` for the first problem found, naming key, value and fix.

    An interpolation that cannot be resolved raises :class:`UnresolvableValue`; the launch
    check (:func:`shiftlab.run.launch.check_config`) first looks for options that do not fit
    together, which is nearly always its cause.
    """
    _check_required(cfg)
    for key, value in list(_leaves(cfg)):
        check_value(key, value)
    _check_agreements(cfg)
    _check_paths(cfg)


def check_value(key: str, value: Any) -> None:
    """Raise the schema's error when ``value`` breaks the rule for ``key`` (if any).

    The one place each rule is written: the launch check calls it for every value of the
    composed config, and data modules and tasks built from Python call it for their
    arguments, so both get the same message.
    """
    for rule in RULES:
        if fnmatch.fnmatchcase(key, rule.pattern) and not rule.check(value):
            raise ConfigError(
                f"{key}={_show(value)} is not valid: it must be {rule.expected}, "
                f"e.g. {key}={rule.example}."
            )


def check_split_fractions(fractions: dict[str, float]) -> None:
    """Each held-out share in [0, 1), together below 1: training keeps what is left.

    ``fractions`` maps a split to its share, e.g. ``{"val": 0.1, "test": 0.1}``.
    """
    for split, value in fractions.items():
        check_value(f"data.{split}_fraction", value)
    if sum(fractions.values()) >= 1:
        shares = " + ".join(f"data.{k}_fraction={v}" for k, v in fractions.items())
        raise ConfigError(
            f"{shares} leaves nothing to train on: the training split gets 1 minus the "
            "validation and test fractions, so their sum must be below 1 "
            "(e.g. data.val_fraction=0.1 data.test_fraction=0.1)."
        )


def _check_required(cfg: DictConfig) -> None:
    """Values left as ``???`` in an option's file: the user has to give them."""
    for key in _missing_keys(cfg):
        group = key.split(".", 1)[0]
        option = chosen_option(group)
        where = f" (data={option})" if group == "data" and option else ""
        name = key.split(".")[-1]
        raise ConfigError(
            f"{key} is required{where} but not set: add {key}=<value> to the command line "
            f"(`shiftlab train --cfg job` shows '{name}: ???' with a comment on what it takes)."
        )


def _check_agreements(cfg: DictConfig) -> None:
    data = cfg.get("data") or {}
    fractions = {k: data[f"{k}_fraction"] for k in ("val", "test") if f"{k}_fraction" in data}
    check_split_fractions(fractions)
    low, high = data.get("min_frames"), data.get("max_frames")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        raise ConfigError(
            f"data.min_frames={low} is larger than data.max_frames={high}: the shortest "
            "spectrogram cannot be longer than the longest. Swap or change them."
        )


def _check_paths(cfg: DictConfig) -> None:
    for key in PATH_KEYS:
        value = OmegaConf.select(cfg, key, default=None)
        if isinstance(value, str) and not Path(value).expanduser().exists():
            raise ConfigError(
                f"{key}={value}: no such file or folder (looked in {Path.cwd()}). Check the "
                f"path; relative paths start from the directory you launch in."
            )
    ckpt = cfg.get("ckpt_path")
    if isinstance(ckpt, str) and ckpt not in ("last", "best") and not Path(ckpt).is_file():
        raise ConfigError(
            f"ckpt_path={ckpt}: no such checkpoint. Pass a file a run wrote, e.g. "
            "ckpt_path=outputs/train/runs/<time>/checkpoints/last.ckpt, or use "
            "resume=<run dir> to continue a run where it stopped."
        )


def _leaves(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every resolved (key, value) below ``node``; interpolations are resolved on the way."""
    if isinstance(node, DictConfig):
        for key in node:
            if node._get_node(key)._is_missing():
                continue
            try:
                value = node[key]
            except InterpolationResolutionError as err:
                raise _unresolvable(f"{prefix}{key}", node._get_node(key), err) from None
            yield from _leaves(value, f"{prefix}{key}.")
    elif isinstance(node, ListConfig):
        try:
            yield prefix[:-1], OmegaConf.to_container(node, resolve=True)
        except InterpolationResolutionError as err:
            raise _unresolvable(prefix[:-1], None, err) from None
    else:
        yield prefix[:-1], node


class UnresolvableValue(ConfigError):
    """An interpolation that points nowhere: nearly always options that do not go together."""


def _unresolvable(key: str, node: Any, err: Exception) -> ConfigError:
    written = node._value() if node is not None else "?"
    return UnresolvableValue(
        f"{key}: {written} cannot be resolved ({err.__class__.__name__}: "
        f"{str(err).splitlines()[0]}). The chosen options do not fit together, e.g. a task "
        "that needs a value another group's option does not have: choose a matching set "
        "(task=segmentation or task=classification for image data; an experiment= option "
        "chooses all of them), or set the missing key with +key=value."
    )


def _missing_keys(cfg: DictConfig) -> list[str]:
    keys = []
    for group in ("data", "model", "task", "optimizer"):
        node = cfg.get(group)
        if isinstance(node, DictConfig):
            keys += [f"{group}.{k}" for k in node if node._get_node(k)._is_missing()]
    return keys


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)
