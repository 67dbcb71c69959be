"""``shiftlab <command> --help`` without Hydra's slow listing of config groups.

Hydra's ``--help`` fills its template's ``$APP_CONFIG_GROUPS`` and ``$HYDRA_CONFIG_GROUPS``
by copying its whole config repository once per group and option (over a hundred deep
copies here: about 1.5 s of a 2 s help). The app's groups are the folders of ``conf/``, so
they are listed here straight from the file system, and the config is composed once with
the user's overrides, as Hydra's help does. The text is the same template (``hydra.help``
in each command's config). Anything this does not cover (``--hydra-help``, ``--resolve``,
extra config directories, templates naming Hydra's own groups) goes to Hydra's help.
"""

from __future__ import annotations

import string
from pathlib import Path

from shiftlab.config.location import config_dir

HELP_FLAGS = ("--help", "-h")
# Flags that change what the help would show beyond what this module composes.
HYDRA_ONLY = ("--hydra-help", "--resolve", "--config-dir", "-cd", "--config-path", "-cp",
              "--config-name", "-cn", "--info", "-i", "--cfg", "-c", "--package", "-p")  # fmt: skip


def applies(args: list[str]) -> bool:
    """Whether ``args`` ask for the app's help and nothing this module cannot show."""
    flags = {a.split("=", 1)[0] for a in args if a.startswith("-")}
    return bool(flags & set(HELP_FLAGS)) and not flags & set(HYDRA_ONLY)


def help_text(command: str, args: list[str]) -> str | None:
    """The help of ``shiftlab <command>`` with the overrides in ``args``; None when its
    template needs something only Hydra can fill (then Hydra's help is used)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf, open_dict

    overrides = [a for a in args if not a.startswith("-")]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(command, overrides=overrides, return_hydra_config=True)
    template = str(cfg.hydra.help.template)
    if "$FLAGS_HELP" in template or "$HYDRA_CONFIG_GROUPS" in template:
        return None
    with open_dict(cfg):
        del cfg.hydra
    return string.Template(template).substitute(
        APP_CONFIG_GROUPS=config_groups(config_dir()), CONFIG=OmegaConf.to_yaml(cfg)
    )


def config_groups(root: Path) -> str:
    """``group: option, option`` lines for every config group under ``root`` but Hydra's own,
    sorted as Hydra sorts them."""
    lines = []
    for folder in sorted(p for p in root.rglob("*") if p.is_dir()):
        group = folder.relative_to(root).as_posix()
        if group == "hydra" or group.startswith("hydra/"):
            continue
        options = sorted(p.stem for p in folder.glob("*.yaml"))
        if options:
            lines.append(f"{group}: {', '.join(options)}")
    return "\n".join(lines) + "\n"
