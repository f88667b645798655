"""The delegation tree: the job's runs, live, with status, steps, tokens, cost and time.

A :class:`~textual.widgets.Tree` whose nodes mirror :class:`~runtime.views.runtree.RunTree`:
the coordinator under the job, delegates under the Expert that called them, parallel
children side by side. Choosing a node narrows the timeline to that run; choosing the
job shows every run again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Tree

from runtime.views.cost import format_cost
from workbench.formatting import STATUS_GLYPHS, format_duration, format_tokens

if TYPE_CHECKING:
    from collections.abc import Sequence

    from textual.widgets.tree import TreeNode

    from runtime.views.replay import NodeState
    from runtime.views.runtree import RunNode, RunTree

__all__ = ["RunTreePanel"]


class RunTreePanel(Tree[str | None]):
    """The delegation tree of the job on screen (node data: the run-tree node id)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "show_all", "All runs", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "run-tree--running",
        "run-tree--done",
        "run-tree--error",
        "run-tree--waiting",
        "run-tree--stopped",
        "run-tree--figures",
    }

    DEFAULT_CSS = """
    RunTreePanel {
        background: $surface;
        & > .run-tree--running { color: $warning; }
        & > .run-tree--done { color: $success; }
        & > .run-tree--error { color: $error; }
        & > .run-tree--waiting { color: $warning; text-style: bold; }
        & > .run-tree--stopped { color: $text-muted; }
        & > .run-tree--figures { color: $text-muted; }
    }
    """

    class Narrowed(Message):
        """A node was chosen: show only its rows (``None``: every row)."""

        def __init__(self, node_id: str | None) -> None:
            super().__init__()
            self.node_id = node_id

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("No job yet", data=None, id=id, classes=classes)
        self.guide_depth = 2
        self._tree_nodes: dict[str, TreeNode[str | None]] = {}
        #: Experts whose definition changed (or went) since the job on screen ran them.
        self._edited: dict[str, str] = {}
        self._tree: RunTree | None = None
        #: While replaying: each shown node's label figures, to relabel only what changed.
        self._replayed: dict[str, tuple[object, ...]] = {}

    def reset_job(self, label: str) -> None:
        """Empty the tree for a new job."""
        self.reset(label, data=None)
        self._tree_nodes.clear()
        self._replayed.clear()
        self._edited.clear()
        self.root.expand()

    def sync(self, tree: RunTree, changed: set[str], now_ms: int) -> None:
        """Add the new nodes and relabel the changed ones."""
        self._tree = tree
        if not changed:
            return
        for node_id, node in tree.nodes.items():
            if node_id not in changed:
                continue
            shown = self._tree_nodes.get(node_id)
            if shown is None:
                parent = self._tree_nodes.get(node.parent_id or "", self.root)
                parent.allow_expand = True
                shown = parent.add(self._label(node, now_ms), data=node_id, expand=True)
                shown.allow_expand = False
                self._tree_nodes[node_id] = shown
            else:
                shown.set_label(self._label(node, now_ms))

    def show_states(self, states: dict[str, NodeState]) -> None:
        """Replay: show the nodes that had started, each as it was (``states``, in the
        order they started; see :meth:`runtime.views.replay.JobReplay.nodes_at`).

        Only what differs from the last call is touched: nodes that had not started yet
        are removed, new ones added, changed ones relabelled.
        """
        shown = self._replayed
        for node_id in [n for n in shown if n not in states]:
            node = self._tree_nodes.pop(node_id, None)
            shown.pop(node_id)
            if node is not None:
                node.remove()
        for node_id, state in states.items():
            figures = (
                state.status, state.total_steps, state.total_tokens, state.total_cost,
                state.elapsed_ms // 100,
            )  # fmt: skip
            if shown.get(node_id) == figures:
                continue
            shown[node_id] = figures
            label = self._replay_label(state)
            existing = self._tree_nodes.get(node_id)
            if existing is None:
                parent = self._tree_nodes.get(state.parent_id or "", self.root)
                parent.allow_expand = True
                existing = parent.add(label, data=node_id, expand=True)
                existing.allow_expand = False
                self._tree_nodes[node_id] = existing
            else:
                existing.set_label(label)

    def _replay_label(self, state: NodeState) -> Text:
        parts = [f"{state.total_steps}st"]
        if state.total_tokens:
            parts.append(format_tokens(state.total_tokens))
            parts.append(format_cost(state.total_cost))
        parts.append(format_duration(state.elapsed_ms))
        return self._assemble(state.status, state.label, "", parts)

    def mark_edited(self, changed: Sequence[str], removed: Sequence[str], now_ms: int) -> None:
        """perstack.toml was reloaded: label the runs of Experts that changed or went
        (the job on screen ran their old definitions)."""
        self._edited.update({key: "edited" for key in changed})
        self._edited.update({key: "removed" for key in removed})
        if self._tree is None:
            return
        for node_id, shown in self._tree_nodes.items():
            node = self._tree.nodes.get(node_id)
            if node is not None and node.expert_key in self._edited:
                shown.set_label(self._label(node, now_ms))

    def tick(self, tree: RunTree, now_ms: int) -> None:
        """Relabel active nodes (their elapsed time moves)."""
        for node_id, node in tree.nodes.items():
            if node.active and node_id in self._tree_nodes:
                self._tree_nodes[node_id].set_label(self._label(node, now_ms))

    def _label(self, node: RunNode, now_ms: int) -> Text:
        parts = [f"{node.total_steps}st"]
        if node.total_tokens:
            parts.append(format_tokens(node.total_tokens))
            parts.append(format_cost(node.total_cost))
        parts.append(format_duration(node.elapsed_ms(now_ms)))
        edited = self._edited.get(node.expert_key)
        return self._assemble(node.status, node.label, f" ({edited})" if edited else "", parts)

    def _assemble(self, status: str, label: str, note: str, parts: list[str]) -> Text:
        style_name = {
            "running": "running",
            "delegating": "running",
            "completed": "done",
            "error": "error",
            "maxSteps": "error",
            "waiting": "waiting",
        }.get(status, "stopped")
        style = self.get_component_rich_style(f"run-tree--{style_name}", partial=True)
        figures = self.get_component_rich_style("run-tree--figures", partial=True)
        return Text.assemble(
            (STATUS_GLYPHS.get(status, "·"), style),
            " ",
            label,
            (note, figures),
            (f" {' '.join(parts)}", figures),
        )

    def on_tree_node_selected(self, event: Tree.NodeSelected[str | None]) -> None:
        event.stop()
        self.post_message(self.Narrowed(event.node.data))

    def action_show_all(self) -> None:
        """Show every run's rows again."""
        self.move_cursor(self.root)
        self.post_message(self.Narrowed(None))
