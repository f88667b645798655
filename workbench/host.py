"""What the app's controllers may use of the app: a narrow, typed interface.

:class:`~workbench.runs.RunControl` (runs) and :class:`~workbench.editing.EditingControl`
(the editor and hot reload) are written against :class:`WorkbenchHost`, not against
:class:`~workbench.app.WorkbenchApp`: each can be read, and tested with a stand-in host,
without the app or the other controller. The app satisfies the protocol; nothing here
imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from workbench.bridge import RunBridge
    from workbench.jobview import JobUpdate, JobView
    from workbench.rerun import AutoRerun
    from workbench.session import Preflight, Session

__all__ = ["EditingHooks", "PaneHost", "RunHooks", "WorkbenchHost"]


class RunHooks(Protocol):
    """What the editing controller asks of the run controller (auto re-run)."""

    def rerun(self, expert_key: str, query: str) -> None:
        """Run ``expert_key`` on ``query`` again, as a new job."""

    def stop(self) -> None:
        """Cancel the run in progress."""

    def new_job(self) -> None:
        """Clear the screen: the next run starts a fresh job."""


class EditingHooks(Protocol):
    """What the run controller tells the editing controller."""

    @property
    def auto_rerun(self) -> AutoRerun:
        """The auto re-run rule: told each query run, so a save can run it again."""

    def saved(self) -> None:
        """``perstack.toml`` was written: reload it now."""


class WorkbenchHost(Protocol):
    """The app as its controllers see it.

    Attributes:
        session: The project and the ``perstack start`` options.
        preflight: What the last check of ``perstack.toml`` found.
        bridge: Runs jobs off the UI thread and relays their events.
        view: The job on screen.
        state: The run state shown in the header.
        node_filter: The delegation-tree node the timeline is narrowed to.
        runs: The run controller.
        editing: The editing controller.
    """

    session: Session
    preflight: Preflight
    bridge: RunBridge
    view: JobView
    state: str
    node_filter: str | None
    runs: RunHooks
    editing: EditingHooks
    clock: Callable[[], int]

    # The app's own state changes.
    def set_state(self, state: str) -> None: ...
    def state_changed(self) -> None: ...
    def show_job(self, view: JobView, label: str) -> None: ...
    def after_update(self, update: JobUpdate, *, live: bool = False) -> None: ...
    def reset_notice(self) -> None: ...
    def check_provider(self) -> Any: ...
    def open_choice(self, choice: Any) -> None: ...

    # Textual's App API, as far as the controllers use it.
    def query_one(self, selector: Any, expect_type: Any = None) -> Any: ...
    def notify(self, message: str, **kwargs: Any) -> None: ...
    def run_worker(self, work: Any, **kwargs: Any) -> Any: ...
    def call_from_thread(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ...
    def push_screen(self, screen: Any, callback: Any = None, **kwargs: Any) -> Any: ...


class PaneHost(Protocol):
    """The app as the pane controller (:class:`~workbench.panes.PaneControl`) sees it.

    Attributes:
        focused: The widget with the focus, if any.
        screen: The screen on top (its classes say which pane is maximised).
    """

    focused: Any
    screen: Any

    def query_one(self, selector: Any, expect_type: Any = None) -> Any: ...
    def notify(self, message: str, **kwargs: Any) -> None: ...
