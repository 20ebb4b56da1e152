"""Where a run configuration comes from: a TOML file (:func:`load_toml`) or a preset
(:mod:`attndyn.numerics.config.presets`), then ``--set key=value`` overrides with dotted keys
(:func:`apply_overrides`); :func:`load_config` does all three and validates once.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from pathlib import Path
import tomllib

from attndyn.numerics.config.presets import preset_config
from attndyn.numerics.config.schema import (_SYNTHETIC_FIELDS, ModelConfig, RunConfig, SECTIONS,
                                            TrainConfig)
from attndyn.proofs.errors import UsageError

# --------------------------------------------------------------------------- sources

def load_toml(path: str | Path) -> dict:
    """Read a config file with sections ``[corpus]``, ``[model]``, ``[train]`` (a plain dict)."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise UsageError(f"config file {p}: not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {p}: not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"config file {p}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                         f"{exc.start}); TOML files must be UTF-8") from None
    except OSError as exc:
        raise UsageError(f"config file {p}: cannot read ({exc.strerror or exc})") from None


PATH_KEYS = (("model", "classifier_matrix"), ("corpus", "sst_dir"))  # config values that name files


def resolve_paths(data: dict, folder: Path) -> dict:
    """``data`` with every relative path in it (:data:`PATH_KEYS`) made relative to ``folder``,
    the config file's own folder, so a config means the same from any working directory.
    (Paths given with ``--set`` stay relative to the working directory, like any command-line path.)"""
    out = {sec: (dict(v) if isinstance(v, Mapping) else v) for sec, v in data.items()}
    for sec, key in PATH_KEYS:
        value = out.get(sec, {}).get(key) if isinstance(out.get(sec), Mapping) else None
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            out[sec][key] = str(folder / value)
    return out


def valid_keys(data: Mapping | None = None) -> list[str]:
    """Every dotted key ``--set`` accepts (the corpus keys depend on ``corpus.kind``)."""
    kind = (data or {}).get("corpus", {}).get("kind", "synthetic")
    corpus = (sorted(_SYNTHETIC_FIELDS) if kind == "synthetic" else ["sst_dir"]) + ["pad_to"]
    return (["corpus.kind"] + [f"corpus.{k}" for k in corpus]
            + [f"model.{f.name}" for f in fields(ModelConfig)]
            + [f"train.{f.name}" for f in fields(TrainConfig)])


def parse_value(text: str):
    """A ``--set`` value: a TOML value (``0.2``, ``true``, ``[1, 2]``, ``"x"``), ``none``/``null``
    for None, else the bare string; a whole number in exponent form (``1e10``) is an integer."""
    if text.lower() in ("none", "null"):
        return None
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    if (isinstance(value, float) and value.is_integer() and "e" in text.lower() and "." not in text
            and abs(value) < 2 ** 63):
        return int(value)  # a count written 1e10 is the integer 10000000000
    return value


def apply_overrides(data: Mapping, overrides: Iterable[str]) -> dict:
    """Apply ``key=value`` overrides (dotted keys, e.g. ``train.lr=0.2``) to a config dict.

    An unknown key is an error listing the valid ones.  Setting ``corpus.kind``
    drops the previous kind's corpus fields that were not set explicitly.
    """
    out = {sec: dict(data.get(sec, {})) for sec in SECTIONS}
    for sec in data:
        if sec not in SECTIONS:
            out[sec] = data[sec]
    parsed = []
    for item in overrides:
        if "=" not in item:
            raise UsageError(f"--set {item!r}: expected key=value, e.g. train.lr=0.2")
        key, _, text = item.partition("=")
        if not key.strip():
            raise UsageError(f"--set {item!r}: the key is empty; expected key=value, e.g. train.lr=0.2")
        parsed.append((key.strip(), parse_value(text.strip())))
    # corpus.kind first: it decides which corpus keys are valid
    for key, value in parsed:
        if key == "corpus.kind" and value != out["corpus"].get("kind", "synthetic"):
            out["corpus"] = {"kind": value}
    for key, value in parsed:
        if key not in valid_keys(out):
            raise UsageError(f"--set {key}: unknown key; valid keys: {', '.join(valid_keys(out))}")
        sec, _, name = key.partition(".")
        out[sec][name] = value
    return out


def load_config(path: str | Path | None = None, preset: str | None = None,
                overrides: Iterable[str] = ()) -> RunConfig:
    """The run config from exactly one of a TOML file or a preset, then ``overrides``."""
    if (path is None) == (preset is None):
        raise UsageError("config: give exactly one of a CONFIG.toml file or --preset NAME")
    if preset is not None:
        base = preset_config(preset).to_dict()
    else:
        base = resolve_paths(load_toml(path), Path(path).parent)
        RunConfig.from_dict(base)  # report errors in the file itself before the overrides
    return RunConfig.from_dict(apply_overrides(base, overrides))
