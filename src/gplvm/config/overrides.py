"""Unknown config keys, found and named with the closest valid key.

Hydra refuses an unknown key with several lines whose hint (``+key=value``) adds the key, which
the schema would then ignore; these helpers turn both into one line.
"""

from __future__ import annotations

import difflib

from omegaconf import DictConfig, OmegaConf


def key_hint(key: str, cfg: DictConfig) -> str:
    """``<key> is not a config key; did you mean <closest>?``, or the valid keys at that level."""
    parent_path, _, leaf = key.rpartition(".")
    parent = OmegaConf.select(cfg, parent_path) if parent_path else cfg
    while parent_path and not isinstance(parent, DictConfig):  # an unknown parent: hint for it
        key, (parent_path, _, leaf) = parent_path, parent_path.rpartition(".")
        parent = OmegaConf.select(cfg, parent_path) if parent_path else cfg
    options = [str(k) for k in parent.keys() if k != "hydra"]
    prefix = f"{parent_path}." if parent_path else ""
    close = difflib.get_close_matches(leaf, options, n=1, cutoff=0.6)
    if close:
        return f"{key} is not a config key; did you mean {prefix}{close[0]}?"
    return f"{key} is not a config key; the keys under {parent_path or 'the root'} are {', '.join(options)}"


def extra_keys(composed: DictConfig, schema: DictConfig, path: str = "") -> list[str]:
    """Keys of ``composed`` (e.g. added with ``+key=value``) that ``schema`` does not have."""
    extra = []
    for key in composed.keys():
        if key == "hydra":
            continue
        full = f"{path}{key}"
        if key not in schema:
            extra.append(full)
            continue
        child, expected = composed._get_node(key), schema._get_node(key)
        if isinstance(child, DictConfig) and isinstance(expected, DictConfig):
            extra += extra_keys(child, expected, f"{full}.")
    return extra
