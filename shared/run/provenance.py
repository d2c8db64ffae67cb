"""Where a number came from: the code that made it, the data, the machine, the git commit.

:func:`code_closure` computes the project files a module imports, directly or through other project
modules (``shared.*`` and ``papers.*``, lazy imports inside functions included). Its digest
(:func:`code_digest`) is part of every checkpoint's fingerprint, so a checkpoint resumes only a run
of the same code, and the conformance suite checks that each DVC stage lists the closure of its
entry module as dependencies, so ``dvc status`` sees every code change that can move a number.
"""

from __future__ import annotations

import ast
import hashlib
import os
import platform
import subprocess
from pathlib import Path

import torch

from shared.core.paths import REPO_ROOT

#: Top-level packages of this repository whose files belong to a code closure.
PROJECT_PACKAGES = ("shared", "papers")


def _module_file(name: str, root: Path) -> Path | None:
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_inits(name: str, root: Path) -> list[Path]:
    """The ``__init__.py`` of every package on the way to ``name`` (Python runs them all)."""
    parts = name.split(".")
    inits = [root.joinpath(*parts[:i], "__init__.py") for i in range(1, len(parts) + 1)]
    return [p for p in inits if p.is_file()]


def _imported_names(path: Path, module: str) -> set[str]:
    """Every module name ``path`` imports (``from a import b`` yields ``a`` and ``a.b``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def code_closure(module: str, root: Path = REPO_ROOT) -> list[Path]:
    """The repository files ``module`` runs: itself, the project modules it imports, theirs, and
    the ``__init__.py`` of every package on the way; sorted, relative to ``root``."""
    seen: set[Path] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        if name.split(".")[0] not in PROJECT_PACKAGES:
            continue
        files = _package_inits(name, root)
        path = _module_file(name, root)
        if path is not None:
            files.append(path)
        for file in files:
            if file in seen:
                continue
            seen.add(file)
            file_module = ".".join(file.relative_to(root).with_suffix("").parts)
            file_module = file_module.removesuffix(".__init__")
            pending.extend(_imported_names(file, file_module))
    return sorted(p.relative_to(root) for p in seen)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def code_digest(module: str, root: Path = REPO_ROOT) -> str:
    """One hash of the contents (and paths) of :func:`code_closure` of ``module``."""
    h = hashlib.sha256()
    for rel in code_closure(module, root):
        h.update(f"{rel}\0{file_digest(root / rel)}\n".encode())
    return h.hexdigest()[:16]


def data_digest(root: Path = REPO_ROOT) -> str:
    """The version of the raw datasets: the hash ``data.dvc`` records for ``data/``. Prepared
    files are a function of it and of the preparation code (which is in every code closure)."""
    path = root / "data.dvc"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "none"


def git_commit(root: Path = REPO_ROOT) -> str:
    """The checked-out commit, with ``-dirty`` when tracked code differs from it; ``unknown``
    outside a git checkout. Results files are ignored when judging dirtiness, because a run
    writes its own results."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    status = subprocess.run(
        [
            "git",
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":(exclude)papers/*/results/*",
            ":(exclude)dvc.lock",
            ":(exclude)papers/*/dvc.lock",
            ":(exclude)RESULTS.md",
            ":(exclude)papers/*/README.md",
        ],
        cwd=root,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{sha}-dirty" if status else sha


def versions() -> dict[str, str]:
    """Versions that can change a number."""
    import numpy

    found = {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__}
    if torch.cuda.is_available():
        found["cuda"] = str(torch.version.cuda)
        found["cudnn"] = str(torch.backends.cudnn.version())
    return found


def processor_name() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux; ``platform`` elsewhere)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine() -> dict[str, str | int]:
    """The machine a number was made on: floating point differs across processors, so a run is
    bit-exact only on the same kind of machine (and within a stated tolerance elsewhere)."""
    found: dict[str, str | int] = {
        "processor": processor_name(),
        "cpus": os.cpu_count() or 0,
        "torch_threads": torch.get_num_threads(),
        "system": f"{platform.system()} {platform.release()}",
    }
    if torch.cuda.is_available():
        found["gpu"] = torch.cuda.get_device_name()
    return found
