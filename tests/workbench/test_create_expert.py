"""F3, "New Expert from a description": create-expert as a job on screen, the change to
perstack.toml as a diff to accept or reject, the report in a pane."""

from __future__ import annotations

from pathlib import Path

from runtime.create_expert.demo import DEMO_DESCRIPTION, install_demo
from runtime.create_expert.report import REPORT_NAME
from tests.workbench.helpers import Messages, make_app
from workbench.bridge import RunBridge
from workbench.commands import ACTIONS
from workbench.screens.describe import CreateRequest, DescribeScreen
from workbench.screens.proposal import ProposalScreen
from workbench.screens.report import ReportScreen


def demo_project(tmp_path: Path) -> Path:
    """A project whose perstack.toml only names the scripted provider and the demo script."""
    return install_demo(tmp_path / "fitness")


async def describe(app, pilot, text: str = DEMO_DESCRIPTION) -> None:
    await pilot.press("f3")
    await app.wait_until(lambda: isinstance(app.screen, DescribeScreen))
    app.screen.query_one("#describe-input").value = text  # typed key by key elsewhere
    await pilot.press("enter")


def test_the_action_has_a_key_and_a_palette_entry() -> None:
    action = next(a for a in ACTIONS if a.action == "create_expert")
    assert (action.title, action.keys) == ("New Expert from a description", "f3")


async def test_escape_closes_the_dialog_and_starts_nothing(tmp_path: Path) -> None:
    project = demo_project(tmp_path)
    app = make_app(project)
    async with app.run_test() as pilot:
        await pilot.press("f3")
        await app.wait_until(lambda: isinstance(app.screen, DescribeScreen))
        await pilot.press("enter")  # no description: the dialog stays
        assert isinstance(app.screen, DescribeScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DescribeScreen)
        assert not app.bridge.running and app.runs.job_id is None


async def test_the_session_runs_on_screen_and_accepting_writes_the_change(tmp_path: Path) -> None:
    project = demo_project(tmp_path)
    config = project / "perstack.toml"
    before = config.read_text()
    messages = Messages()
    app = make_app(project)
    async with app.run_test(size=(120, 36), message_hook=messages) as pilot:
        await describe(app, pilot)
        await app.wait_until(lambda: isinstance(app.screen, ProposalScreen), timeout=60)
        outcome = app.create.outcome
        # The team's job was the job on screen: its rounds and delegations are the rows.
        started = messages.of(RunBridge.Started)[-1]
        assert (started.job_id, started.expert_key) == (outcome.job_id, "create-expert")
        assert app.view.job_id == outcome.job_id
        delegated = {row.tool_name for row in app.view.rows if row.kind == "delegate"}
        assert {"designer", "tester", "verifier", "reporter"} <= delegated
        assert app.state == "completed"
        # Nothing is written before the change is accepted.
        assert config.read_text() == before
        assert "+[experts.fitness-assistant]" in app.screen.diff
        await pilot.press("a")
        await app.wait_until(lambda: isinstance(app.screen, ReportScreen))
        assert "[experts.fitness-assistant]" in config.read_text()
        assert config.read_text().startswith(before)
        assert (outcome.directory / "perstack.toml.before").read_text() == before
        report = (project / REPORT_NAME).read_text()
        assert "Written to `perstack.toml`" in report
        assert app.screen.markdown == report
        await pilot.press("escape")
        # The hot reload brings the new Experts into the picker.
        await app.wait_until(lambda: "fitness-assistant" in app.preflight.experts)
        assert not isinstance(app.screen, ReportScreen)


async def test_rejecting_leaves_perstack_toml_byte_for_byte(tmp_path: Path) -> None:
    project = demo_project(tmp_path)
    config = project / "perstack.toml"
    config.write_bytes(config.read_bytes().replace(b"\n", b"\r\n"))  # Windows line ends
    before = config.read_bytes()
    app = make_app(project)
    async with app.run_test(size=(120, 36)) as pilot:
        await describe(app, pilot)
        await app.wait_until(lambda: isinstance(app.screen, ProposalScreen), timeout=60)
        await pilot.press("r")
        await app.wait_until(lambda: isinstance(app.screen, ReportScreen))
        assert config.read_bytes() == before
        assert "the change was declined" in app.screen.markdown
        assert app.create.outcome.applied is False


async def test_improving_offers_the_projects_experts(tmp_path: Path) -> None:
    project = demo_project(tmp_path)
    config = project / "perstack.toml"
    config.write_text(config.read_text() + '\n[experts.coach]\ninstruction = "Coach."\n')
    app = make_app(project)
    chosen: list[CreateRequest] = []
    app.create.start = chosen.append  # the request, without running a session
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f3")
        await app.wait_until(lambda: isinstance(app.screen, DescribeScreen))
        app.screen.query_one("#describe-target").value = "coach"
        app.screen.query_one("#describe-rounds").value = "2"
        await pilot.press(*"Keep a diary", "enter")  # typed, key by key
        await pilot.pause()
    assert chosen == [CreateRequest("Keep a diary", "coach", 2)]


async def test_a_provider_that_cannot_start_is_an_error_on_screen(tmp_path: Path) -> None:
    project = tmp_path / "keyless"
    project.mkdir()
    (project / "perstack.toml").write_text('[provider]\nproviderName = "anthropic"\n')
    messages = Messages()
    app = make_app(project)
    async with app.run_test(message_hook=messages) as pilot:
        await describe(app, pilot, "A helper")
        await app.wait_until(lambda: app.state == "error")
        error = messages.of(RunBridge.Finished)[-1].error
        assert error.startswith("ANTHROPIC_API_KEY is not set")
        assert app.create.outcome is None and not app.create.active
