"""Hot reload of perstack.toml and .env files, and the auto re-run rule (issue 7)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.config import ConfigError, load_config, parse_config_text
from runtime.config.diff import ExpertsDiff
from tests.workbench.editor_apps import EditorApp, config_home, wait_for  # noqa: F401
from tests.workbench.toml_samples import SMALL_CONFIG
from workbench.reload import ConfigInvalid, ConfigReloaded
from workbench.rerun import AutoRerun
from workbench.widgets.config_editor import ConfigEditor

pytestmark = pytest.mark.usefixtures("config_home")

WITH_EDITOR = SMALL_CONFIG + '\n[experts.editor]\ninstruction = "Edit the note."\n'


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project" / "perstack.toml"
    path.parent.mkdir()
    path.write_text(SMALL_CONFIG)
    return path


def save_as_editors_do(path: Path, text: str) -> None:
    """Write a temporary file beside ``path`` and rename it over ``path``."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text)
    os.replace(temp, path)


async def test_a_valid_change_reloads_with_what_changed(project: Path) -> None:
    app = EditorApp(project, watch=True)
    async with app.run_test(size=(90, 30)) as pilot:
        assert app.watcher.config is not None and set(app.watcher.config.experts) == {
            "writer",
            "reader",
        }
        new_text = WITH_EDITOR.replace("Write a note.", "Write two notes.")
        save_as_editors_do(project, new_text)
        reloaded = await wait_for(pilot, app, ConfigReloaded)
        assert reloaded.diff == ExpertsDiff(added=("editor",), changed=("writer",))
        assert reloaded.config.experts["writer"].instruction == "Write two notes."
        assert reloaded.text == new_text and reloaded.changed == {project}
        assert not reloaded.env_changed
        assert app.watcher.config is reloaded.config


async def test_an_invalid_change_reports_the_loaders_problems(project: Path) -> None:
    app = EditorApp(project, watch=True)
    async with app.run_test(size=(90, 30)) as pilot:
        valid = app.watcher.config
        broken = SMALL_CONFIG.replace('instruction = "Read the notes."', "maxSteps = 0")
        save_as_editors_do(project, broken)
        invalid = await wait_for(pilot, app, ConfigInvalid)
        with pytest.raises(ConfigError) as error:
            load_config(project)
        assert invalid.problems == error.value.problems
        assert app.watcher.config is valid  # the last valid config stays in use
        save_as_editors_do(project, WITH_EDITOR)
        reloaded = await wait_for(pilot, app, ConfigReloaded)
        assert reloaded.diff.added == ("editor",)  # against the last *valid* config


async def test_rapid_saves_give_one_reload(project: Path) -> None:
    # The watch hands over a batch once no change came for step_ms; 200 ms (instead of the
    # workbench's 50) keeps a stalled CI machine from splitting the burst. Should it split
    # anyway, a batch whose files are unchanged is still no reload.
    app = EditorApp(project, watch=True, step_ms=200)
    async with app.run_test(size=(90, 30)) as pilot:
        for count in range(1, 6):
            save_as_editors_do(project, SMALL_CONFIG.replace("Write a note.", f"Draft {count}."))
        first = await wait_for(pilot, app, ConfigReloaded)
        assert first.config.experts["writer"].instruction == "Draft 5."
        # A later, distinct save is the next reload: none came in between.
        save_as_editors_do(project, WITH_EDITOR)
        second = await wait_for(pilot, app, ConfigReloaded, 2)
        assert second.diff.added == ("editor",)
        assert len(app.of(ConfigReloaded)) == 2 and not app.of(ConfigInvalid)
        assert app.watcher.reload_count == 2


async def test_saving_in_the_editor_reloads_once(project: Path) -> None:
    app = EditorApp(project, watch=True)
    async with app.run_test(size=(90, 30)) as pilot:
        area = app.editor.text_area
        area.focus()
        area.move_cursor(area.document.end)
        area.insert('[experts.editor]\ninstruction = "Edit."\n')
        await pilot.press("ctrl+s")
        reloaded = await wait_for(pilot, app, ConfigReloaded)
        assert reloaded.diff.added == ("editor",)
        # Its own save does not come back as an outside edit, nor as a second reload.
        save_as_editors_do(project, SMALL_CONFIG)
        second = await wait_for(pilot, app, ConfigReloaded, 2)
        assert second.diff.removed == ("editor",)
        assert len(app.of(ConfigReloaded)) == 2
        assert len(app.of(ConfigEditor.LoadedFromDisk)) == 1  # only the second, outside one


async def test_env_files_are_watched(project: Path) -> None:
    app = EditorApp(project, watch=True)
    async with app.run_test(size=(90, 30)) as pilot:
        assert app.watcher.watched_files() == {
            project,
            project.parent / ".env",
            project.parent / ".env.local",
        }
        (project.parent / ".env.local").write_text("SOME_KEY=1\n")
        reloaded = await wait_for(pilot, app, ConfigReloaded)
        assert reloaded.env_changed and not reloaded.diff
        assert reloaded.changed == {project.parent / ".env.local"}


async def test_a_new_env_path_is_watched_after_the_reload(project: Path) -> None:
    app = EditorApp(project, watch=True)
    async with app.run_test(size=(90, 30)) as pilot:
        secrets = project.parent / "config" / "secrets.env"
        secrets.parent.mkdir()
        save_as_editors_do(project, 'envPath = ["config/secrets.env"]\n' + SMALL_CONFIG)
        reloaded = await wait_for(pilot, app, ConfigReloaded)
        assert reloaded.diff.settings == ("envPath",)
        assert secrets in app.watcher.watched_files()
        await wait_for_watching(pilot, app, secrets.parent)
        secrets.write_text("TOKEN=x\n")
        reloaded = await wait_for(pilot, app, ConfigReloaded, 2)
        assert reloaded.env_changed and reloaded.changed == {secrets}


async def wait_for_watching(pilot, app: EditorApp, directory: Path) -> None:
    from tests.workbench.editor_apps import wait_until

    watch = app.watcher._watch
    await wait_until(pilot, lambda: directory in watch.directories and watch.running)
    await watch.ready.wait()


def _config(text: str):
    return parse_config_text(text, Path("perstack.toml"))


def test_auto_rerun_is_off_by_default_and_needs_a_last_query() -> None:
    config = _config(SMALL_CONFIG)
    changed = ExpertsDiff(changed=("writer",))
    rerun = AutoRerun()
    assert rerun.decide(config, changed).reason == "auto re-run is off"
    assert rerun.toggle() is True
    assert rerun.decide(config, changed).reason == "nothing has run yet"
    rerun.remember("writer", "a note about tea")
    decision = rerun.decide(config, changed, job_running=True)
    assert decision.rerun and decision.stop_running
    assert (decision.expert_key, decision.query) == ("writer", "a note about tea")
    assert not rerun.decide(config, changed).stop_running


def test_auto_rerun_skips_reloads_that_change_nothing_a_run_uses() -> None:
    rerun = AutoRerun(enabled=True)
    rerun.remember("writer", "q")
    config = _config(SMALL_CONFIG)
    assert not rerun.decide(config, ExpertsDiff()).rerun  # comments only
    assert rerun.decide(config, ExpertsDiff(), env_changed=True).rerun  # e.g. a new API key
    assert rerun.decide(config, ExpertsDiff(settings=("model",))).rerun
    assert rerun.decide(config, ExpertsDiff(changed=("reader",))).rerun  # a delegate maybe
    without_writer = _config(SMALL_CONFIG.replace("[experts.writer]", "[experts.author]"))
    decision = rerun.decide(without_writer, ExpertsDiff(added=("author",), removed=("writer",)))
    assert not decision.rerun and decision.reason == "Expert writer is no longer defined"


async def test_a_batch_without_new_content_is_no_reload(project: Path) -> None:
    app = EditorApp(project, watch=True)
    async with app.run_test(size=(90, 30)) as pilot:
        assert await app.watcher.reload() is None  # nothing changed since start
        save_as_editors_do(project, WITH_EDITOR)
        message = await app.watcher.reload()  # the app's own call, as after a save
        assert isinstance(message, ConfigReloaded) and message.diff.added == ("editor",)
        assert await app.watcher.reload() is None
        # The watch sees the same write later: same content, so no second reload.
        save_as_editors_do(project, SMALL_CONFIG)
        second = await wait_for(pilot, app, ConfigReloaded, 2)
        assert second.diff.removed == ("editor",) and app.watcher.reload_count == 2
