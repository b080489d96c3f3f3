"""What a run records about itself: SHA-256 of every input, package versions, the git commit."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

from .. import paths
from ..cache import sha256_file
from .notebooks import KEY_PACKAGES


# Hashing inputs
class InputHasher:
    """Hash files and folders once per run (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._files: dict[Path, str] = {}
        self._entries: dict[str, dict] = {}

    def file(self, p: Path) -> str:
        """SHA-256 of one file, read from disk only the first time it is asked for.

        Parameters
        ----------
        p : pathlib.Path
            The file (cached under this path exactly as given, not resolved).

        Returns
        -------
        str
            The 64-character lower-case hex digest.
        """
        with self._lock:
            if p in self._files:
                return self._files[p]
        digest = sha256_file(p)
        with self._lock:
            self._files[p] = digest
        return digest

    def entry(self, p: Path) -> dict:
        """The manifest entry for a file or folder, computed once per path.

        A folder's ``sha256_tree`` is the SHA-256 of the ``sha256sum``-style listing
        ``"<sha256>  <relative path>\\n"`` of every file in it, sorted by path (see
        :func:`hash_inputs`).

        Parameters
        ----------
        p : pathlib.Path
            The file or folder (cached under ``str(p)``, not resolved).

        Returns
        -------
        dict
            ``{"kind": "file", "sha256", "bytes"}`` or
            ``{"kind": "folder", "sha256_tree", "files", "bytes"}`` (``files`` and ``bytes``
            counted over every file below the folder).
        """
        key = str(p)
        with self._lock:
            if key in self._entries:
                return self._entries[key]
        if p.is_dir():
            tree = hashlib.sha256()
            n = size = 0
            for f in sorted(x for x in p.rglob("*") if x.is_file()):
                rel = f.relative_to(p).as_posix()
                tree.update(f"{self.file(f)}  {rel}\n".encode())
                n += 1
                size += f.stat().st_size
            info = {"kind": "folder", "sha256_tree": tree.hexdigest(), "files": n, "bytes": size}
        else:
            info = {"kind": "file", "sha256": self.file(p), "bytes": p.stat().st_size}
        with self._lock:
            self._entries[key] = info
        return info

    def sums(self) -> str:
        """A ``SHA256SUMS`` listing of every file hashed so far (folders' files included).

        Returns
        -------
        str
            One ``"<sha256>  <path>\\n"`` line per file, sorted by path, in the format
            ``sha256sum --check`` reads; empty when nothing has been hashed.
        """
        with self._lock:
            return "".join(f"{h}  {p}\n" for p, h in sorted(self._files.items()))


def hash_inputs(inputs: Iterable[str | os.PathLike]) -> dict[str, dict]:
    """SHA-256 of each input: a file's digest, or for a folder a digest over its files.

    A folder's ``sha256_tree`` is the SHA-256 of the ``sha256sum``-style listing
    ``"<sha256>  <relative path>\\n"`` of every file in it, sorted by path, so it changes when
    any file changes, appears or disappears.

    Parameters
    ----------
    inputs : iterable of str or os.PathLike
        Files and folders a run read.

    Returns
    -------
    dict
        path -> ``{"kind": "file", "sha256", "bytes"}`` or
        ``{"kind": "folder", "sha256_tree", "files", "bytes"}``.
    """
    h = InputHasher()
    return {str(Path(p).resolve()): h.entry(Path(p).resolve()) for p in inputs}


# Environment
def environment_info() -> dict:
    """Python, platform, key package versions and the git commit (when in a git checkout).

    Returns
    -------
    dict
        ``python`` (version), ``implementation``, ``platform``, ``packages`` (name -> version, or
        ``None`` when not installed) and ``git`` (:func:`git_info`).
    """
    import platform
    from importlib import metadata

    pkgs = {}
    for name in KEY_PACKAGES:
        try:
            pkgs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pkgs[name] = None
    return {"python": sys.version.split()[0], "implementation": platform.python_implementation(),
            "platform": platform.platform(), "packages": pkgs, "git": git_info()}


def git_info(root: str | os.PathLike | None = None) -> dict | None:
    """The commit of the repository and whether the working tree has changes, or None.

    Parameters
    ----------
    root : str or os.PathLike, optional
        The repository; default :data:`cqc_research.paths.PROJECT_ROOT`.

    Returns
    -------
    dict or None
        ``{"commit": <40 hex digits>, "dirty": bool}`` (``dirty``: tracked files changed), or
        ``None`` when git is missing, ``root`` is not a checkout, or git fails.
    """
    root = Path(root) if root is not None else paths.PROJECT_ROOT
    if shutil.which("git") is None or not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=20).stdout.strip() != ""
    except (subprocess.SubprocessError, OSError):
        return None
    return {"commit": commit, "dirty": dirty}


def inside_dir(path: str, root: Path) -> bool:
    """Whether a path is ``root`` itself or lies below it, once both are resolved.

    Parameters
    ----------
    path : str
        The path to test (symbolic links and ``..`` are resolved first).
    root : pathlib.Path
        The folder.

    Returns
    -------
    bool
        ``False`` also when either path cannot be resolved.
    """
    try:
        return Path(path).resolve().is_relative_to(root.resolve())
    except OSError:
        return False


def relative_path(p: Path, root: Path) -> str:
    """A path relative to ``root``, in ``/`` form, so manifests do not depend on the machine.

    Parameters
    ----------
    p : pathlib.Path
        The path (resolved first).
    root : pathlib.Path
        The folder it is expressed from (resolved first).

    Returns
    -------
    str
        The POSIX relative path (``"."`` for ``root`` itself), or ``str(p)`` unchanged when
        ``p`` is not inside ``root``.
    """
    try:
        return Path(p).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(p)


