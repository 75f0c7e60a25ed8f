"""The report run's snapshot: what the notebooks load, computed once per run and shared.

Every report notebook starts from :func:`~mof_experiments.reports.load_report_data`, which
labels the funnel (a scan of every API event), reads the email events, the experiment's
outcomes and so on. In a report run the notebooks share one workspace and one ``as_of``, so
:func:`~mof_experiments.reports.run_reports` gives them a snapshot folder (the environment
variable ``MOF_REPORT_SNAPSHOT``, inherited by the kernels) and the loader reads each part from
it: the first kernel that needs a part computes it and stores it there; the others wait for it
and read it.

Rules
-----
- **Key.** A part is stored under a hash of its name, its arguments (``as_of``,
  ``min_success``, the machine-open rule, the experiment and its window), the workspace's
  absolute path and the workspace file's size and modification time (and its ``.wal``'s). A
  notebook given other parameters, or a workspace changed during the run, gets its own part:
  a part is never used for data it was not computed from.
- **Once.** Each part is computed under an exclusive lock on ``<key>.lock`` (``fcntl.flock``),
  so two kernels never compute the same part; a kernel that dies while computing releases the
  lock and the next one computes the part. Parts are written atomically (pickle, then
  ``os.replace``).
- **Scope.** The folder belongs to one run (``<run folder>/.snapshot``, removed when the run
  ends). Without the variable (a notebook opened in JupyterLab) nothing is stored and the
  loader computes every part itself, as before.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pickle
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from mof_experiments.atomic import atomic_path

#: The environment variable naming the run's snapshot folder.
SNAPSHOT_ENV = "MOF_REPORT_SNAPSHOT"
#: Name of the snapshot folder inside a run folder.
SNAPSHOT_DIRNAME = ".snapshot"


def workspace_identity(path: str | os.PathLike) -> dict:
    """The absolute path, size and modification time (ns) of a workspace file and of its
    ``.wal`` (0 when absent): what a snapshot part is keyed by."""
    p = Path(path).expanduser().resolve()
    ident = {"path": str(p)}
    for suffix, f in (("", p), ("wal_", Path(f"{p}.wal"))):
        try:
            st = f.stat()
            ident[f"{suffix}size"], ident[f"{suffix}mtime_ns"] = st.st_size, st.st_mtime_ns
        except FileNotFoundError:
            ident[f"{suffix}size"], ident[f"{suffix}mtime_ns"] = 0, 0
    return ident


def part_key(name: str, workspace_path, **args) -> str:
    """The file stem of part ``name`` computed with ``args`` from the workspace at ``workspace_path``."""
    text = json.dumps({"part": name, "workspace": workspace_identity(workspace_path), "args": args},
                      sort_keys=True, default=str)
    return f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:24]}"


class Snapshot:
    """A run's snapshot folder (see the module's rules).

    ``Snapshot(folder).get(name, compute, workspace_path, **args)`` returns the stored part, or
    ``compute()`` stored for the other kernels. ``hits`` and ``computed`` count the parts read
    and computed by this process.
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.hits = 0
        self.computed = 0

    @classmethod
    def from_env(cls) -> "Snapshot | None":
        """The run's snapshot (``$MOF_REPORT_SNAPSHOT``), or None outside a report run."""
        folder = os.environ.get(SNAPSHOT_ENV)
        return cls(folder) if folder and Path(folder).is_dir() else None

    def get(self, name: str, compute: Callable, workspace_path, **args):
        stem = part_key(name, workspace_path, **args)
        path = self.folder / f"{stem}.pkl"
        with _locked(self.folder / f"{stem}.lock"):
            if path.is_file():
                try:
                    with open(path, "rb") as fh:
                        value = pickle.load(fh)
                    self.hits += 1
                    return value
                except Exception:  # noqa: BLE001 - an unreadable part is computed again, never trusted
                    pass
            value = compute()
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as fh:
                    pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            self.computed += 1
            return value


@contextmanager
def _locked(path: Path):
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)          # released on close, also when the process dies
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def new_snapshot_folder(run_dir: str | os.PathLike) -> Path:
    """Create ``<run_dir>/.snapshot`` (readable by the owner only)."""
    folder = Path(run_dir) / SNAPSHOT_DIRNAME
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


__all__ = ["SNAPSHOT_DIRNAME", "SNAPSHOT_ENV", "Snapshot", "new_snapshot_folder", "part_key", "workspace_identity"]
