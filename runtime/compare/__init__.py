"""``perstack compare``: one Expert and query on several models at once.

The runs go through the engine's public entry point (:func:`runtime.engine.api.run`);
their figures and step alignment come from the views (:mod:`runtime.views.comparison`).
Like :mod:`runtime.create_expert`, this package sits beside the front ends: the CLI
(``runtime/cli/compare.py``) and the workbench's compare view use it.
"""

from runtime.compare.runner import (
    COMPARISONS_FOLDER,
    CompareRequest,
    ModelChoice,
    copy_workspace,
    run_comparison,
)

__all__ = [
    "COMPARISONS_FOLDER",
    "CompareRequest",
    "ModelChoice",
    "copy_workspace",
    "run_comparison",
]
