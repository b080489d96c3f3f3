"""Running notebooks into reports: papermill runs, kernels, manifests, the index page, batches.

Modules: :mod:`.notebooks` (finding notebooks, parameters), :mod:`.kernels` (Jupyter kernels over ipc),
:mod:`.manifest` (input hashes, versions), :mod:`.html` (HTML export and index), :mod:`.run`
(``cqc-research run``), :mod:`.tasks`, :mod:`.executors` and :mod:`.batch` (``cqc-research batch``).
"""

from __future__ import annotations

from .batch import run_batch
from .html import export_html, write_index  # noqa: F401 (read by the package's tests and tools)
from .kernels import KernelSession  # noqa: F401
from .manifest import hash_inputs  # noqa: F401
from .notebooks import (  # noqa: F401
    NotebookError,
    ParameterError,
    find_notebooks,
    make_run_id,
    notebook_parameters,
    parse_value,
    resolve_parameters,
    uses_default_data,
)
from .run import RunResult, run_notebooks
from .tasks import BatchResult

__all__ = ["run_notebooks", "run_batch", "RunResult", "BatchResult", "NotebookError", "ParameterError",
           "find_notebooks", "notebook_parameters"]
