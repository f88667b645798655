"""Which checkpoint `perstack run` / `start` continue from (spec §12, "Selecting state")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.errors import PerstackError
from runtime.storage.base import Storage

if TYPE_CHECKING:
    from runtime.model import Checkpoint

__all__ = ["select_checkpoint"]


def select_checkpoint(
    storage: Storage,
    *,
    continue_latest: bool,
    continue_job: str | None,
    resume_from: str | None,
) -> Checkpoint | None:
    """The checkpoint the continue/resume options point at, or ``None`` for a fresh job.

    * ``--continue-job <id>``: the job's highest-step checkpoint (the last written of
      equals); with ``--resume-from <cp>``: that checkpoint of the job.
    * ``--continue``: the newest run (by run-setting ``updatedAt``) of any job, then that
      job's highest-step checkpoint. Jobs written by upstream Perstack have no run
      settings; when no job has one, the newest job is used instead.
    * ``--continue-job`` wins over ``--continue`` when both are given.

    Args:
        storage: Where jobs are kept.
        continue_latest: ``--continue``.
        continue_job: ``--continue-job``.
        resume_from: ``--resume-from``.

    Raises:
        PerstackError: ``--resume-from requires --continue-job``,
            ``Checkpoint <cp> not found in job <id>``, ``No checkpoints found for job <id>``,
            ``No runs found`` or ``No checkpoint found``.
    """
    if resume_from and not continue_job:
        raise PerstackError("--resume-from requires --continue-job")
    if continue_job:
        if resume_from:
            checkpoint = storage.retrieve_checkpoint(continue_job, resume_from)
            if checkpoint is None:
                raise PerstackError(f"Checkpoint {resume_from} not found in job {continue_job}")
            return checkpoint
        checkpoint = storage.latest_checkpoint(continue_job)
        if checkpoint is None:
            raise PerstackError(f"No checkpoints found for job {continue_job}")
        return checkpoint
    if not continue_latest:
        return None
    latest = storage.latest_run()
    if latest is not None:
        job_id = latest[0]
    else:
        jobs = storage.list_jobs()
        if not jobs:
            raise PerstackError("No runs found")
        job_id = jobs[0].id
    checkpoint = storage.latest_checkpoint(job_id)
    if checkpoint is None:
        raise PerstackError("No checkpoint found")
    return checkpoint
