"""The node's ``config.yaml`` read as K3s/RKE2 read it, and checked more strictly than they do.

K3s and RKE2 parse the file with k3s-io/k3s ``pkg/configfilearg`` (v1.31.4+k3s1): every key is a
CLI flag without ``--``. Differences on purpose, so a bug of the tool shows in tests:

* an unknown key is refused (K3s logs ``Unknown flag --KEY found in config.yaml, skipping`` and
  goes on — which would silently drop what the user wrote);
* a ``bool``/``int`` flag must hold such a value (K3s fails to parse the flag as well);
* arguments after ``server``/``agent`` are refused: the tool writes everything into the file.
"""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any

from .facts import Facts


class ConfigRefused(Exception):
    """The twin refuses to start, as the real binary would (message names file and key)."""


def parse_yaml(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(io.StringIO(text))


def parse_yaml_documents(text: str) -> list[Any]:
    from ruamel.yaml import YAML

    return [d for d in YAML(typ="safe", pure=True).load_all(io.StringIO(text)) if d is not None]


def load(facts: Facts, role: str) -> dict[str, Any]:
    path = facts.config_path
    if not os.path.exists(path):
        raise ConfigRefused(f"config file {path} missing")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        data = parse_yaml(text) or {}
    except Exception as error:  # ruamel's errors carry line and column
        raise ConfigRefused(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigRefused(f"{path}: not a mapping of flags")
    dropins = {}
    if os.path.isdir(path + ".d"):  # config.yaml.d/*.yaml, merged as K3s merges them
        for name in sorted(os.listdir(path + ".d")):
            with open(f"{path}.d/{name}", encoding="utf-8") as handle:
                dropins[name] = parse_yaml(handle.read()) or {}
    if dropins:
        from ..configfile import merge_config_files

        data = merge_config_files(data, dropins)
    keys = facts.server_keys if role == "server" else facts.agent_keys
    for key, value in data.items():
        kind = keys.get(str(key))
        if kind is None:
            raise ConfigRefused(
                f"{path}: unknown config key for {role}: {key} (K3s/RKE2 would skip it with "
                f"'Unknown flag --{key} found in config.yaml, skipping'; the twin refuses it)"
            )
        if kind == "bool" and not isinstance(value, bool):
            raise ConfigRefused(f"{path}: {key}: not a bool: {value!r}")
        if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigRefused(f"{path}: {key}: not an integer: {value!r}")
    for required in ("token", "node-name"):
        if not data.get(required):
            raise ConfigRefused(f"{path}: no {required}")
    if not as_list(data, "node-ip"):
        raise ConfigRefused(f"{path}: no node-ip")
    return data


def as_list(config: dict[str, Any], key: str) -> list[str]:
    """A repeatable flag's values; K3s splits each item on commas (StringSlice flags)."""
    value = config.get(key)
    items = value if isinstance(value, list) else ([] if value in (None, "") else [value])
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def data_dir(facts: Facts, config: dict[str, Any]) -> str:
    return str(config.get("data-dir") or facts.data_dir)


def token_password(token: str) -> str:
    """The password part of a token: ``K10<ca hash>::<user>:<password>`` or the raw token
    (k3s-io/k3s pkg/clientaccess/token.go, ParseToken)."""
    if token.startswith("K10") and "::" in token:
        return token.split("::", 1)[1].split(":", 1)[-1]
    return token


def token_sha(config: dict[str, Any]) -> str:
    """A hash prefix of the token for the records (never the token itself)."""
    return hashlib.sha256(str(config.get("token", "")).encode()).hexdigest()[:12]
