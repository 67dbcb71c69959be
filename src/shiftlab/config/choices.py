"""The option Hydra composed for each config group of the running app (no torch)."""

from __future__ import annotations


def chosen_option(group: str) -> str | None:
    """The option Hydra composed for ``group`` (``model`` → ``tsconv_unet``), for messages."""
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get().runtime.choices.get(group) if HydraConfig.initialized() else None


def group_choices() -> dict[str, str]:
    """Every group's chosen option (Hydra's own groups left out); empty outside a Hydra app."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {}
    choices = HydraConfig.get().runtime.choices
    return {k: str(v) for k, v in choices.items() if not k.startswith("hydra")}
