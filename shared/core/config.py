"""Typed configuration loaded from a paper's ``params.yaml``.

A paper's ``params.yaml`` holds one entry per task. Each task has a base configuration and a
``profiles`` mapping with the three profiles of DESIGN.md (``smoke``, ``cpu``, ``paper``); a
profile is a partial override merged onto the base. The merged mapping is converted into the
paper's dataclass schema, strictly: an unknown key, a value of the wrong type, a missing task or
profile raise :class:`ConfigError`, whose message names the file and the dotted key.

    tasks:
      jsb_chorales:
        model: {arch: tcn, kernel_size: 3, ...}
        train: {epochs: 100, lr: 0.002, ...}
        profiles:
          smoke: {train: {epochs: 1}}
          cpu: {}
          paper: {}
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

PROFILES = ("smoke", "cpu", "paper")

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration file is wrong; the message names the file and the key."""


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with a clear error when the file is missing, not YAML or not a mapping."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        with path.open(encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(
            f"{path}: not valid YAML{where} ({problem}); fix it there, or restore the committed file "
            f"with `git checkout -- {path}`"
        ) from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    return data


def read_tasks(params_path: str | Path) -> dict[str, dict[str, Any]]:
    """``tasks:`` of a paper's params.yaml, each a mapping; a ConfigError names what is wrong."""
    tasks = read_yaml(params_path).get("tasks")
    if not isinstance(tasks, dict):
        raise ConfigError(f"{params_path}: tasks: missing or not a mapping (one entry per task: task -> settings)")
    for name, entry in tasks.items():
        if not isinstance(entry, dict):
            raise ConfigError(f"{params_path}: tasks.{name}: expected a mapping, got {entry!r}")
    return tasks


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``override`` merged in; nested mappings merge, other values replace."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Check (and lightly coerce: int -> float) ``value`` against the annotation ``tp``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:  # ``X | None``: X's own message (e.g. a nested key) is the useful one
            return _convert(value, options[0], where)
        for arg in options:
            try:
                return _convert(value, arg, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        item_tp = args[0] if args else Any
        return [_convert(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        val_tp = args[1] if len(args) == 2 else Any
        return {k: _convert(v, val_tp, f"{where}.{k}") for k, v in value.items()}
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        # YAML 1.1 reads "1e-3" (no dot) as a string; accept it as the number it is.
        try:
            value = float(value)
        except ValueError:
            pass
    if tp is float and isinstance(value, float) and not math.isfinite(value):
        # `.nan` or `.inf` pass every comparison a validate() makes (nan <= 0 is False) and then
        # train on NaN; no setting of this project is meant to be infinite.
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    if isinstance(tp, type):
        if tp is int and isinstance(value, bool):
            raise ConfigError(f"{where}: expected int, got {value!r}")
        if not isinstance(value, tp):
            raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported annotation {tp!r}")


def _join(where: str, key: str) -> str:
    return f"{where}{key}" if where.endswith(" ") else f"{where}.{key}"


def from_dict(cls: type[T], data: dict[str, Any], where: str) -> T:
    """Build dataclass ``cls`` from ``data``; unknown, missing or mistyped keys raise ConfigError.

    ``where`` is the prefix used in messages, e.g. ``"papers/tcn/params.yaml: tasks.jsb"``; a
    prefix ending in a space (``"paper.yaml: "``) is followed directly by the key.
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{_join(where, unknown[0])}: unknown key (allowed: {', '.join(sorted(fields))})")
    kwargs = {}
    for name, field in fields.items():
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], _join(where, name))
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{_join(where, name)}: required key is missing")
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        try:
            validate()
        except ValueError as err:
            raise ConfigError(f"{where}: {err}") from err
    return obj


def at_least_one(obj: Any, section: str, names: Sequence[str]) -> None:
    """For a ``validate()``: raise ValueError for the first field of ``names`` that is set and below
    1. A size, count or limit of 0 trains on nothing (or crashes later), and a negative one, used
    as a slice end, silently drops data from the end."""
    optional = {f.name for f in dataclasses.fields(obj) if f.default is None}
    for name in names:
        value = getattr(obj, name)
        if value is not None and value < 1:
            raise ValueError(f"{section}.{name}: {value} must be >= 1" + (" (or null)" if name in optional else ""))


def check_probabilities(obj: Any, section: str, names: Sequence[str]) -> None:
    """For a ``validate()``: raise ValueError for the first field of ``names`` outside [0, 1) (a
    dropout probability of 1 drops everything)."""
    for name in names:
        value = getattr(obj, name)
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{section}.{name}: {value} is not in [0, 1)")


def load_task_config(params_path: str | Path, task: str, profile: str, schema: type[T]) -> T:
    """Load ``tasks.<task>`` of ``params_path`` with ``profiles.<profile>`` merged on top."""
    params_path = Path(params_path)
    tasks = read_tasks(params_path)
    if task not in tasks:
        raise ConfigError(f"{params_path}: tasks.{task}: unknown task (known: {', '.join(sorted(tasks))})")
    entry = dict(tasks[task])
    profiles = entry.pop("profiles", None) or {}
    unknown_profiles = sorted(set(profiles) - set(PROFILES))
    if unknown_profiles:
        raise ConfigError(
            f"{params_path}: tasks.{task}.profiles.{unknown_profiles[0]}: unknown profile "
            f"(allowed: {', '.join(PROFILES)})"
        )
    if profile not in PROFILES:
        raise ConfigError(f"{params_path}: profile {profile!r} is not one of {', '.join(PROFILES)}")
    if profile not in profiles:
        raise ConfigError(f"{params_path}: tasks.{task}.profiles.{profile}: profile is missing")
    merged = deep_merge(entry, profiles[profile] or {})
    return from_dict(schema, merged, f"{params_path}: tasks.{task}")


def to_flat_dict(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten a (nested) dataclass into ``{"train.lr": 0.002, ...}`` for logging."""
    flat: dict[str, Any] = {}
    items = dataclasses.asdict(obj).items() if dataclasses.is_dataclass(obj) else obj.items()
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(to_flat_dict(value, f"{name}."))
        else:
            flat[name] = value
    return flat
