"""Scale-out: jobs as Temporal workflows, run by ``perstack worker`` on any machine.

:mod:`.contracts` (what goes through Temporal), :mod:`.workflows` (thin and
deterministic), :mod:`.activity` and :mod:`.scopes` (the work: parts of a job on the
runtime), :mod:`.relay` (live events through the shared storage), :mod:`.workspaces`
(workspaces synced at each checkpoint) and :mod:`.worker` (the worker process). See
``docs/scale-out.md``. Nothing here is imported unless a Temporal executor or worker runs.
"""
