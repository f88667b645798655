"""Replay: the job on screen as it was at any event, a cursor in time over its events.

F8 (or the command palette, or ``perstack start --open <job> --in-replay``) reads the job
on screen into a :class:`~runtime.views.replay.JobReplay` (in a thread) and puts the
screen in replay: a key bar above the timeline, the timeline showing the rows that
existed at the cursor (each as it was), the delegation tree with each run's status,
steps, tokens and time of then, the header with "step N of M", the tokens so far and
the elapsed time at that point, and the checkpoint panel under the timeline (what the
Expert acting at the cursor held). Leaving replay (Esc, F8) puts the job back as it is.

Moving the cursor touches only what changed: the timeline repaints its visible lines
from the replay's index, the tree relabels the nodes whose figures changed, the header
is one label; the checkpoint panel (a read from storage when the checkpoint changes)
follows a moment later, so holding a key or playing fast stays smooth.

From the cursor, ``f`` forks the job (:mod:`workbench.forking`): a new job from the
checkpoint of the Expert acting there, which runs live in the normal view; when it
ends, the diff of the two jobs opens on their first divergence.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any

from rich.text import Text

from runtime.errors import PerstackError
from runtime.views.cost import format_cost
from workbench.formatting import format_duration, format_tokens
from workbench.widgets.checkpoint_panel import CheckpointPanel
from workbench.widgets.replay_bar import ReplayBar

if TYPE_CHECKING:
    from runtime.views.replay import Header, JobReplay
    from runtime.views.replay_rows import ReplayRows
    from workbench.bridge import RunBridge
    from workbench.forking import ForkRequest
    from workbench.screens.jobs import JobChoice

__all__ = [
    "CheckpointPanel", "ReplayActions", "ReplayBar", "ReplayControl", "SPEEDS", "replay_status",
]  # fmt: skip

#: Play speeds, in the order ``s`` cycles through them (``None``: as fast as it draws).
SPEEDS: tuple[float | None, ...] = (1.0, 4.0, 16.0, None)
#: Seconds the checkpoint panel waits for the cursor to rest before reading storage.
PANEL_DELAY = 0.1

_JUMPS = {
    "next_step": ("step", 1), "prev_step": ("step", -1),
    "next_event": ("event", 1), "prev_event": ("event", -1),
    "next_error": ("error", 1), "prev_error": ("error", -1),
    "next_delegation": ("delegation", 1), "prev_delegation": ("delegation", -1),
    "next_tool": ("tool", 1), "prev_tool": ("tool", -1),
}  # fmt: skip


def speed_name(speed: float | None) -> str:
    return "max" if speed is None else f"{speed:g}×"


def replay_status(header: Header) -> Text:
    """The header's status line at the cursor: ``↺ replay · step 4 of 7 · 1.2k tokens ·
    $0.0123 · 3.4s``."""
    return Text.assemble(
        ("↺ replay", "bold"),
        f" · step {header.step} of {header.last_step}"
        f" · {format_tokens(header.tokens) or '0'} tokens"
        f" · {format_cost(header.cost) or '$0'}"
        f" · {format_duration(header.elapsed_ms)}"
        f" · {header.status}",
    )


class ReplayActions:
    """The app's replay keys, mixed into :class:`~workbench.app.WorkbenchApp`."""

    replay: ReplayControl

    def action_toggle_replay(self) -> None:
        """Replay the job on screen step by step, or leave replay."""
        self.replay.toggle()

    def action_replay(self, command: str) -> None:
        """A replay key (see :data:`workbench.widgets.replay_bar.REPLAY_KEYS`)."""
        self.replay.command(command)

    def open_choice(self, choice: JobChoice) -> None:
        """What was chosen in F2: show a job, show it in replay, or diff two."""
        runs = self.runs  # type: ignore[attr-defined]
        if choice.action == "diff":
            from workbench.screens.diff import DiffScreen

            assert choice.other is not None
            self.push_screen(DiffScreen(choice.other, choice.name, self.session))  # type: ignore[attr-defined]
            return
        self.replay.leave()
        if choice.location:
            runs.open_stored(named=choice.name)
        else:
            runs.open_stored(continue_job=choice.name)
        if choice.action == "replay":
            self.replay.enter_when_shown()

    # Textual calls these after the app's own handlers of the same messages.
    def on_mount(self) -> None:
        if getattr(self.session, "replay", False):  # type: ignore[attr-defined]
            self.replay.enter_when_shown()

    def on_run_bridge_started(self, message: RunBridge.Started) -> None:
        self.replay.run_started(message)

    def on_run_bridge_finished(self, message: RunBridge.Finished) -> None:
        self.replay.run_finished(message)


class ReplayControl:
    """The app's replay mode (see the module docstring).

    Attributes:
        replay: The job and its cursor while replaying (``None`` otherwise).
        rows: The timeline's rows of the replay.
        playing: The cursor advances by itself.
        speed: The play speed (one of :data:`SPEEDS`).
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.replay: JobReplay | None = None
        self.rows: ReplayRows | None = None
        self.playing = False
        self.speed: float | None = 1.0
        self.loading = False
        self._play_timer: Any = None
        self._panel_timer: Any = None
        #: ``(job forked, new job)`` while a fork started from here runs.
        self._fork: tuple[str, str | None] | None = None

    @property
    def active(self) -> bool:
        return self.replay is not None

    # --- entering and leaving ----------------------------------------------------------

    def toggle(self) -> None:
        """F8: enter replay on the job on screen, or leave it."""
        if self.active:
            self.leave()
        else:
            self.enter()

    def enter(self, at_step: int | None = None) -> None:
        """Read the job on screen into a replay (in a thread), then show it at its first
        event (or at the end of ``at_step``)."""
        app = self.app
        name = app.runs.job_name()
        if name is None:
            app.notify("No job on screen to replay: run one, or open one with F2.")
            return
        if app.bridge.running:
            app.notify("A run is in progress; replay it once it ends.", severity="warning")
            return
        if self.loading:
            return
        self.loading = True
        session = app.session

        def load() -> None:
            from runtime.storage.sources import open_job
            from runtime.views.replay import JobReplay

            try:
                source = open_job(name, cwd=session.cwd, storage_root=session.storage_root())
                replay = JobReplay.from_source(source, app.view.costs.prices)
            except PerstackError as error:
                app.call_from_thread(self._not_loaded, str(error))
                return
            app.call_from_thread(self._entered, replay, at_step)

        app.run_worker(load, name="load-replay", group="load-replay", thread=True, exclusive=True)

    def enter_when_shown(self, at_step: int | None = None) -> None:
        """Enter replay once the job being read onto the screen is there."""
        app = self.app

        async def wait_then_enter() -> None:
            await app.wait_until(lambda: app.state != "loading" and not app.bridge.running)
            if app.runs.job_name() is not None:
                self.enter(at_step)

        app.run_worker(wait_then_enter(), name="replay-when-shown", group="replay-when-shown")

    def _not_loaded(self, problem: str) -> None:
        self.loading = False
        self.app.notify(problem, title="Cannot replay the job", severity="error")
        self.app.state_changed()

    def _entered(self, replay: JobReplay, at_step: int | None) -> None:
        from runtime.views.replay_rows import ReplayRows

        app = self.app
        self.loading = False
        # The index lives as long as the replay: keep it out of every collection.
        gc.freeze()
        if not len(replay):
            app.notify("The job has no events to replay.", severity="warning")
            app.state_changed()
            return
        self.replay = replay
        self.rows = ReplayRows(replay)
        self.rows.set_filter(app.row_filter())
        if at_step is None:
            replay.first()
        else:
            replay.go_to_step(at_step)
        app.screen.set_class(True, "-replay")
        timeline = app.query_one("#timeline")
        timeline.show_replay(self.rows, clock=self._now)
        app.query_one("#run-tree").reset_job(f"job {(replay.job_id or '')[:8]} · replay")
        app.query_one(ReplayBar).focus()
        self.moved()
        app.notify(
            "←→ steps, Space plays, f re-runs from the cursor, Esc leaves. F1 lists every key.",
            title="Replay",
        )

    def leave(self) -> None:
        """Back to the job as it is (its follow-ups continue it as before)."""
        if self.replay is None:
            return
        app = self.app
        self.pause()
        self._stop_panel_timer()
        self.replay = self.rows = None
        app.screen.set_class(False, "-replay")
        app.query_one("#timeline").show_replay(None)
        tree = app.query_one("#run-tree")
        view = app.view
        tree.reset_job(f"job {(view.job_id or '')[:8]}" if view.job_id else "No job yet")
        tree.sync(view.tree, set(view.tree.nodes), app.clock())
        app.query_one("#checkpoint").key = None
        app.refresh_status()
        app.query_one("#query-input").focus()

    def set_filter(self, row_filter: Any) -> None:
        """The timeline's filter changed: the replay's rows follow it."""
        if self.rows is not None:
            self.rows.set_filter(row_filter)

    # --- the cursor -----------------------------------------------------------------------

    def command(self, name: str) -> None:
        """One of the replay bar's commands (see :data:`~workbench.widgets.replay_bar.REPLAY_KEYS`)."""
        replay = self.replay
        if replay is None:
            if name != "leave":
                self.app.notify("Not replaying: F8 replays the job on screen.")
            return
        if name in _JUMPS:
            kind, direction = _JUMPS[name]
            if replay.find(kind, direction) is None:
                self.app.notify(f"No {kind} {'after' if direction > 0 else 'before'} the cursor.")
                return
            self.pause()
            replay.move(kind, direction)
        elif name == "first":
            self.pause()
            replay.first()
        elif name == "last":
            self.pause()
            replay.last()
        elif name == "play":
            self.pause() if self.playing else self.play()
            return
        elif name == "speed":
            self.speed = SPEEDS[(SPEEDS.index(self.speed) + 1) % len(SPEEDS)]
            self._show_bar()
            return
        elif name == "go_to_step":
            self._ask_step()
            return
        elif name == "fork":
            self.fork()
            return
        elif name == "leave":
            self.leave()
            return
        else:
            raise ValueError(f"unknown replay command {name!r}")
        self.moved()

    def seek(self, cursor: int) -> None:
        """Put the cursor at event ``cursor`` (tests, the benchmark)."""
        if self.replay is not None:
            self.replay.seek(cursor)
            self.moved()

    def go_to_step(self, step: int) -> None:
        if self.replay is not None:
            self.pause()
            self.replay.go_to_step(step)
            self.moved()

    def moved(self) -> None:
        """The cursor moved: show the job as it was there."""
        replay = self.replay
        if replay is None:
            return
        app = self.app
        app.query_one("#timeline").replay_moved()
        app.query_one("#run-tree").show_states(replay.nodes_at())
        app.query_one("#header").set_status(replay_status(replay.header()))
        self._show_bar()
        self._stop_panel_timer()
        self._panel_timer = app.set_timer(PANEL_DELAY, self._show_checkpoint, name="checkpoint")
        app.state_changed()

    def _now(self) -> int:
        event = self.replay.event if self.replay is not None else None
        return event.timestamp if event is not None else 0

    def _show_bar(self) -> None:
        replay = self.replay
        if replay is None:
            return
        header = replay.header()
        where = (
            f"step {header.step} of {header.last_step} · event {replay.cursor + 1}/{len(replay)}"
            f" · {header.event_type}"
        )
        self.app.query_one("#replay-bar").show_position(where, self.playing, speed_name(self.speed))

    def _stop_panel_timer(self) -> None:
        if self._panel_timer is not None:
            self._panel_timer.stop()
            self._panel_timer = None

    def _show_checkpoint(self) -> None:
        """Read the checkpoint at the cursor in a thread (a long job's history is large),
        then show it if the cursor is still there."""
        self._panel_timer = None
        replay = self.replay
        if replay is None:
            return
        cursor, app = replay.cursor, self.app

        def read() -> None:
            held = replay.checkpoint_at(cursor)
            node = replay.tree.nodes.get(held.node_id) if held is not None else None
            app.call_from_thread(self._checkpoint_read, replay, cursor, held, node)

        app.run_worker(read, name="checkpoint", group="checkpoint", thread=True)

    def _checkpoint_read(self, replay: JobReplay, cursor: int, held: Any, node: Any) -> None:
        if self.replay is not replay or replay.cursor != cursor:
            return  # the cursor moved on: its own read follows
        self.app.query_one("#checkpoint").show(held, node.label if node is not None else "")
        self.app.state_changed()

    # --- playing --------------------------------------------------------------------------

    def play(self) -> None:
        """Advance event by event at the recorded pace times the speed."""
        replay = self.replay
        if replay is None:
            return
        if replay.cursor >= len(replay) - 1:
            replay.first()  # at the end: play from the start
            self.moved()
        self.playing = True
        self._show_bar()
        self._schedule()

    def pause(self) -> None:
        if self._play_timer is not None:
            self._play_timer.stop()
            self._play_timer = None
        if self.playing:
            self.playing = False
            self._show_bar()

    def _schedule(self) -> None:
        replay = self.replay
        if replay is None or not self.playing:
            return
        delay = replay.play_delay_ms(self.speed) / 1000
        if delay < 0.001:  # (a timer of 0 s divides by zero in Textual)
            # As fast as it draws: the next event once this one is on screen.
            self._play_timer = None
            self.app.call_after_refresh(self._advance)
        else:
            self._play_timer = self.app.set_timer(delay, self._advance, name="replay-play")

    def _advance(self) -> None:
        replay = self.replay
        if replay is None or not self.playing:
            return
        if replay.cursor >= len(replay) - 1:
            self.pause()
            return
        replay.next_event()
        self.moved()
        if replay.cursor >= len(replay) - 1:
            self.pause()
        else:
            self._schedule()

    # --- go to step, fork -----------------------------------------------------------------

    def _ask_step(self) -> None:
        from workbench.screens.step_prompt import StepPrompt

        replay = self.replay
        assert replay is not None
        self.pause()

        def chosen(step: int | None) -> None:
            if step is not None:
                self.go_to_step(step)

        self.app.push_screen(StepPrompt(replay.header().last_step), chosen)

    def fork(self) -> None:
        """Open the fork dialog at the cursor's fork point."""
        from workbench.screens.fork import ForkScreen

        replay = self.replay
        assert replay is not None
        self.pause()
        point = replay.fork_point()
        if point is None:
            self.app.notify(
                "No checkpoint to fork from here: the Expert at the cursor has not ended a "
                "step yet. Move on a step (→).",
                severity="warning",
            )
            return
        run_id, checkpoint_id = point
        node_id = replay.node_of_event()
        node = replay.tree.nodes.get(node_id or "")
        index = next(
            (i for i in range(replay.cursor, -1, -1)
             if getattr(replay.events[i], "checkpoint", None) is not None
             and replay.events[i].checkpoint.id == checkpoint_id),  # type: ignore[attr-defined]
            replay.cursor,
        )  # fmt: skip
        step = replay.events[index].step_number
        config = self.app.preflight.config

        def chosen(request: ForkRequest | None) -> None:
            if request is not None:
                self._start_fork(request)

        self.app.push_screen(
            ForkScreen(
                checkpoint_id=checkpoint_id,
                run_id=run_id,
                actor=node.label if node is not None else "",
                step=step,
                config=config,
            ),
            chosen,
        )

    def _start_fork(self, request: ForkRequest) -> None:
        from workbench.forking import fork_starter

        app = self.app
        name = app.runs.job_name()
        replay = self.replay
        if name is None or replay is None:
            return
        coordinator = (replay.job or {}).get("coordinatorExpertKey") or ""
        self.leave()
        starter = fork_starter(
            app.session, name, request, provider_factory=app.bridge.provider_factory
        )
        self._fork = (name, None)
        app.runs.launch_job(starter, coordinator)

    # --- the fork's end -------------------------------------------------------------------

    def run_started(self, message: RunBridge.Started) -> None:
        if self._fork is not None and self._fork[1] is None:
            self._fork = (self._fork[0], message.job_id)

    def run_finished(self, message: RunBridge.Finished) -> None:
        """A fork started here ended: open the diff of the two jobs on its first
        divergence."""
        fork, self._fork = self._fork, None
        if fork is None or fork[1] is None or message.error is not None or message.cancelled:
            return
        from workbench.screens.diff import DiffScreen

        self.app.push_screen(DiffScreen(fork[0], fork[1], self.app.session))
