"""Build a FleetConfig from preset, TOML file, TRNMON_* environment and flags.

Precedence: flags > environment > file > preset > model defaults. Every failure becomes a
ConfigError whose message is one line naming the field and the problem.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from trnmon.config.model import FleetConfig
from trnmon.config.presets import DEFAULT_PRESET, preset
from trnmon.errors import ConfigError

ENV_PREFIX = "TRNMON_"
_NESTED = "__"


def describe_validation_error(exc: ValidationError, source: str = "config") -> str:
    """One line: the first failing field, the reason and the offending value."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "(root)"
    msg = first["msg"]
    got = first.get("input")
    text = f"{source}: {where}: {msg}"
    if first["type"] not in ("missing",) and not isinstance(got, dict | list):
        text += f" (got {got!r})"
    if len(errors) > 1:
        text += f" (+{len(errors) - 1} more)"
    return text


def read_toml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config error: {p}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"config error: {p}: is a directory") from None
    except PermissionError:
        raise ConfigError(f"config error: {p}: permission denied") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config error: {p}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config error: {p}: not UTF-8 text") from None


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """TRNMON_SEED=3 -> {"seed": "3"}; TRNMON_FAULTS__RATE_MULTIPLIER=2 -> nested.

    Only names of FleetConfig fields are taken; other TRNMON_* variables belong to other
    components (the daemon's token file, say) and are left alone. JSON values are decoded
    so that lists can come from the environment too.
    """
    fields = set(FleetConfig.model_fields)
    out: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        path = key[len(ENV_PREFIX) :].lower().split(_NESTED)
        if path[0] not in fields:
            continue
        value: Any = raw
        if raw[:1] in "[{":
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                raise ConfigError(f"config error: {key}: invalid JSON value") from None
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Dicts merge key by key; anything else (lists included) is replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(
    *,
    preset_name: str | None = None,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> FleetConfig:
    env = os.environ if environ is None else environ
    file_data = read_toml(config_file) if config_file is not None else {}
    file_preset = file_data.pop("preset", None)
    if file_preset is not None and not isinstance(file_preset, str):
        raise ConfigError(f"config error: preset: must be a string (got {file_preset!r})")
    if preset_name is not None and not preset_name.strip():
        raise ConfigError("config error: --preset: must not be empty")
    name = preset_name or env.get(ENV_PREFIX + "PRESET") or file_preset or DEFAULT_PRESET
    data = deep_merge(preset(name), file_data)
    data = deep_merge(data, env_overrides(env))
    data = deep_merge(data, {k: v for k, v in (overrides or {}).items() if v is not None})
    return validate_config(data, source="config error")


def validate_config(data: Mapping[str, Any], source: str = "config error") -> FleetConfig:
    try:
        return FleetConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source)) from None
