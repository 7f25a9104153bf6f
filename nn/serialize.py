"""`save` and `load`: a model as a JSON file (its architecture and its parameters).

JSON, never pickle: loading a file runs no code from it. The file names one of the
known model types and its constructor arguments, and holds the parameters by name:

    {"format": "autodiff.nn", "version": 1, "model": "MLP",
     "config": {"nin": 2, "sizes": [16, 1], "activation": "relu", "output_activation": "linear"},
     "parameters": {"layers.0.neurons.0.w.0": 0.53, ...}}

A malformed or hostile file raises ValueError naming the file and what is wrong,
before any model is built. Only a regular file is read (not a directory, a FIFO or
a device such as /dev/zero), and at most `max_bytes` of it; only a regular file (or
a new one) is written, through a symbolic link to the file it names.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from .gpt import GPT, parameter_count
from .layers import MLP, Layer, Neuron
from .module import Module

__all__ = ["save", "load", "FORMAT", "VERSION", "MAX_BYTES"]

FORMAT = "autodiff.nn"
VERSION = 1
MAX_BYTES = 64 * 2**20  # what load reads by default: 64 MiB, about a million parameters at ~50 bytes each

# The model types a file may name, with the keys of their config.
_TYPES: dict[str, tuple[type[Module], tuple[str, ...]]] = {
    "Neuron": (Neuron, ("nin", "activation")),
    "Layer": (Layer, ("nin", "nout", "activation")),
    "MLP": (MLP, ("nin", "sizes", "activation", "output_activation")),
    "GPT": (GPT, ("vocab_size", "n_embd", "n_head", "n_layer", "block_size")),
}


def save(model: Module, path: str | os.PathLike) -> None:
    """Write `model` (architecture and parameters) to `path` as JSON.

    The file is written next to `path` and then moved into place, so an existing
    file is replaced whole or not at all. A symbolic link is written through: the
    file it names is replaced (atomically, the same way) and the link stays. A
    path that is a folder, a FIFO or a device is refused, and left as it is.

    Args:
        model: a Neuron, Layer, MLP or GPT.
        path: the file to write.
    """
    kind = type(model).__name__
    if kind not in _TYPES or type(model) is not _TYPES[kind][0]:
        raise TypeError(
            f"save: can save {', '.join(_TYPES)}, not {kind}; for other modules, save model.state_dict() yourself"
        )
    document = {
        "format": FORMAT,
        "version": VERSION,
        "model": kind,
        "config": model.config(),
        "parameters": model.state_dict(),
    }
    text = json.dumps(document, indent=1, allow_nan=False)
    path = Path(path)
    target, shown = _target(path)
    _check_writable_path(target, shown)
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as error:  # named by the folder, not the temporary file; OSError(errno, ...) keeps the subclass
        raise OSError(
            error.errno, f"save: {shown}: cannot create a file in {target.parent}: {error.strerror}"
        ) from error
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, _file_mode(target))  # mkstemp makes it private (0600)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


def _target(path: Path) -> tuple[Path, str]:
    """Where `save` writes, and how its errors name it: a symlink is written through, to the file it names
    (which may not exist yet), and stays a link; any other path is written itself."""
    if not path.is_symlink():
        return path, str(path)
    target = Path(os.path.realpath(path))
    if target.is_symlink():  # realpath stops at a loop
        raise OSError(errno.ELOOP, f"save: {path}: a loop of symbolic links")
    return target, f"{path} (a link to {target})"


def _check_writable_path(path: Path, shown: str) -> None:
    """Refuse a folder, a FIFO or a device, or a file in a folder that does not exist, named as `shown` (the path
    given, not the temporary file): `save` replaces a regular file or makes a new one, nothing else."""
    folder = path.parent
    if path.is_dir():
        raise IsADirectoryError(f"save: {shown} is a folder; give the path of a file in it, e.g. {path / 'model.json'}")
    if not folder.exists():
        raise FileNotFoundError(f"save: {shown}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"save: {shown}: {folder} is not a folder")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    _check_regular("save", shown, mode, "save writes a regular file; give the path of one, or of a new file")


def _file_mode(path: Path) -> int:
    """The mode of the file being replaced, or that of a new file under the current umask."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def load(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> Module:
    """Read a model written by `save`: a new model with the saved architecture and parameters.

    Args:
        path: the file to read.
        max_bytes: refuse a file larger than this (64 MiB by default), before parsing it.

    Raises:
        ValueError: the path is not a regular file, the file is larger than
            max_bytes, not valid JSON or not a saved model (the message names the
            file, and the line for a syntax error).
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
        raise TypeError(f"load: max_bytes must be an int, got {type(max_bytes).__name__} ({max_bytes!r})")
    if max_bytes < 1:
        raise ValueError(f"load: max_bytes must be >= 1, got {max_bytes!r}")
    path = Path(path)
    data = _read_bytes(path, max_bytes)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"load: {path}: not a text (UTF-8) file: {error}") from None
    try:
        document = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"load: {path}: line {error.lineno}, column {error.colno}: not valid JSON: {error.msg}"
        ) from None
    except (ValueError, RecursionError) as error:
        raise ValueError(f"load: {path}: {error}") from None
    try:
        return _build(document)
    except (TypeError, ValueError) as error:
        raise ValueError(f"load: {path}: {error}") from None


_LOAD_HINT = "a saved model is a file written by nn.save"


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """The bytes of the regular file at `path`, at most max_bytes of them."""
    _check_regular("load", path, os.stat(path).st_mode, _LOAD_HINT)  # before opening: opening a device can do things
    # Without blocking: opening a FIFO for reading would wait for a writer. What was opened is checked again, in
    # case the path was swapped for something else in between.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as f:
        opened = os.fstat(fd)
        _check_regular("load", path, opened.st_mode, _LOAD_HINT)
        size = opened.st_size
        data = f.read(max_bytes + 1) if size <= max_bytes else b""  # the size can grow, or lie (/proc files)
    if size > max_bytes or len(data) > max_bytes:
        shown = f"is {size} bytes" if size > max_bytes else f"holds more than {max_bytes} bytes"
        raise ValueError(
            f"load: {path}: the file {shown}, more than max_bytes={max_bytes}; "
            "if it is a model you trust, raise the limit: nn.load(path, max_bytes=...)"
        )
    return data


def _check_regular(who: str, path: Path | str, mode: int, hint: str) -> None:
    """Refuse what is not a regular file (a directory, a FIFO, a device, a socket), naming its kind."""
    if stat.S_ISREG(mode):
        return
    kinds = [
        (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
    ]  # fmt: skip
    kind = next((name for test, name in kinds if test(mode)), "something other than a file")
    raise ValueError(f"{who}: {path}: not a regular file but {kind}; {hint}")


def _build(document: Any) -> Module:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f'not a saved model (expected a JSON object with "format": {FORMAT!r})')
    if type(document.get("version")) is not int or document["version"] != VERSION:  # not true, not 1.0
        raise ValueError(f"unsupported version {document.get('version')!r} (this library reads version {VERSION})")
    extra = set(document) - {"format", "version", "model", "config", "parameters"}
    if extra:
        raise ValueError(f"unexpected key {sorted(extra)[0]!r}")
    kind = document.get("model")
    if not isinstance(kind, str) or kind not in _TYPES:
        raise ValueError(f"unknown model type {kind!r}; known: {', '.join(_TYPES)}")
    cls, keys = _TYPES[kind]
    config, parameters = document.get("config"), document.get("parameters")
    if not isinstance(config, dict) or set(config) != set(keys):
        raise ValueError(f"config of a {kind} must be an object with the keys {', '.join(keys)}, got {config!r}")
    if not isinstance(parameters, dict):
        raise ValueError(f"parameters must be an object of names and numbers, got {type(parameters).__name__}")
    # Count before building, so that a file cannot make us allocate a huge model it does not hold.
    expected = _parameter_count(kind, config)
    if expected != len(parameters):
        raise ValueError(
            f"the {kind} described by config has {expected} parameters, but the file holds {len(parameters)}"
        )
    model = cls(**config)
    model.load_state_dict(parameters)
    return model


def _parameter_count(kind: str, config: dict[str, Any]) -> int:
    def size(name: str, n: object) -> int:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"config {name} must be a positive int, got {n!r}")
        return n

    if kind == "Neuron":
        return size("nin", config["nin"]) + 1
    if kind == "Layer":
        return (size("nin", config["nin"]) + 1) * size("nout", config["nout"])
    if kind == "GPT":
        sizes = {name: size(name, config[name]) for name in ("vocab_size", "n_embd", "n_head", "n_layer", "block_size")}
        if sizes["n_embd"] % sizes["n_head"]:
            raise ValueError(f"config n_embd must be a multiple of n_head, got {sizes['n_embd']} and {sizes['n_head']}")
        return parameter_count(sizes["vocab_size"], sizes["n_embd"], sizes["n_layer"], sizes["block_size"])
    sizes = config["sizes"]
    if not isinstance(sizes, list) or not sizes:
        raise ValueError(f"config sizes must be a non-empty list, got {sizes!r}")
    fan_ins = [size("nin", config["nin"]), *(size("sizes", n) for n in sizes[:-1])]
    return sum((n_in + 1) * size("sizes", n_out) for n_in, n_out in zip(fan_ins, sizes))


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a finite number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out
