"""Auto re-run: after a valid save, run the last query again against the new definitions.

:class:`AutoRerun` only decides; the app acts on the decision (stop the running job when
``stop_running``, then start a new job with ``expert_key`` and ``query``). It is off by
default: re-running spends model tokens, so the user turns it on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.config.diff import ExpertsDiff
    from runtime.config.models import PerstackConfig

__all__ = ["AutoRerun", "RerunDecision"]


@dataclass(frozen=True)
class RerunDecision:
    """What to do after a reload.

    Attributes:
        rerun: Whether to start a new job.
        reason: Why not (empty when ``rerun``), for a notice.
        expert_key: The Expert to run.
        query: The query to run it with.
        stop_running: Stop the running job first.
    """

    rerun: bool
    reason: str = ""
    expert_key: str = ""
    query: str = ""
    stop_running: bool = False


class AutoRerun:
    """The auto re-run toggle and its rule.

    A reload re-runs when the toggle is on, something has run before (the app calls
    :meth:`remember` whenever it starts a job from a query), the reload changed what a run
    would use (an Expert, a top-level setting or a ``.env`` file: a save that only touched
    comments does not restart a long job), and the last Expert still exists.
    """

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled
        self.expert_key: str | None = None
        self.query: str | None = None

    def toggle(self) -> bool:
        """Flip the toggle; returns the new state."""
        self.enabled = not self.enabled
        return self.enabled

    def remember(self, expert_key: str, query: str) -> None:
        """The app started a job: this is what a re-run repeats."""
        self.expert_key, self.query = expert_key, query

    def decide(
        self,
        config: PerstackConfig,
        diff: ExpertsDiff,
        *,
        env_changed: bool = False,
        job_running: bool = False,
    ) -> RerunDecision:
        """Whether the reload that produced ``config`` and ``diff`` re-runs the last query.

        Args:
            config: The config just loaded (valid).
            diff: What changed against the previous valid config.
            env_changed: A ``.env`` file changed.
            job_running: A job is running now (it is stopped first).
        """
        if not self.enabled:
            return RerunDecision(False, "auto re-run is off")
        if self.expert_key is None or self.query is None:
            return RerunDecision(False, "nothing has run yet")
        if not diff and not env_changed:
            return RerunDecision(False, "no changes to the Experts or settings")
        if self.expert_key not in config.experts:
            return RerunDecision(False, f"Expert {self.expert_key} is no longer defined")
        return RerunDecision(True, "", self.expert_key, self.query, job_running)
