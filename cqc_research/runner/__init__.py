"""Running notebooks into reports: papermill runs, kernels, manifests, the index page, batches.

Modules: :mod:`.notebooks` (finding notebooks, parameters), :mod:`.kernels` (Jupyter kernels over ipc),
:mod:`.manifest` (input hashes, versions), :mod:`.html` (HTML export and index), :mod:`.run`
(``cqc-research run``), :mod:`.tasks`, :mod:`.executors` and :mod:`.batch` (``cqc-research batch``).
"""

from __future__ import annotations

from .batch import (  # noqa: F401
    default_run_id,
    entity_table,
    load_input,
    plan_batch,
    run_batch,
    select_entities,
)
from .html import (  # noqa: F401
    export_html,
    write_index,
)
from .kernels import (  # noqa: F401
    KernelSession,
    fast_imports,
    kernel_print_written,
    kernel_track_writes,
)
from .manifest import (  # noqa: F401
    environment_info,
    git_info,
    hash_inputs,
)
from .notebooks import (  # noqa: F401
    KernelStartError,
    NotebookError,
    ParameterError,
    declared_inputs,
    find_notebooks,
    make_run_id,
    notebook_parameters,
    parse_value,
    resolve_parameters,
    uses_default_data,
)
from .run import (  # noqa: F401
    NotebookResult,
    RunResult,
    run_notebooks,
    runs_last,
)
from .tasks import (  # noqa: F401
    BatchError,
    BatchResult,
    BatchSpec,
    EntityRunner,
    EntityTask,
    is_complete,
    kernel_reset,
    kernel_warmup,
    safe_join,
    slugify,
)

__all__ = [
    "NotebookError",
    "ParameterError",
    "KernelStartError",
    "make_run_id",
    "find_notebooks",
    "notebook_parameters",
    "parse_value",
    "resolve_parameters",
    "uses_default_data",
    "declared_inputs",
    "hash_inputs",
    "environment_info",
    "git_info",
    "KernelSession",
    "kernel_track_writes",
    "kernel_print_written",
    "fast_imports",
    "export_html",
    "write_index",
    "NotebookResult",
    "RunResult",
    "runs_last",
    "run_notebooks",
    "BatchError",
    "slugify",
    "safe_join",
    "BatchSpec",
    "EntityTask",
    "BatchResult",
    "is_complete",
    "kernel_warmup",
    "kernel_reset",
    "EntityRunner",
    "entity_table",
    "select_entities",
    "load_input",
    "default_run_id",
    "plan_batch",
    "run_batch",
]
