"""Test scenarios, what one test run did, and the deterministic checks between the two.

A :class:`Scenario` is what the tester writes: an Expert, a query, optional files to put
in the scratch workspace first, and what should happen (:class:`Expectations`). A
:class:`RunRecord` is what a test run did, read from its events and its workspace. The
checks compare the two without a model wherever they can (files written, tools called or
not, delegation, steps); what only judgement can tell (``judge``) is left to the verifier.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

__all__ = [
    "Check",
    "Expectations",
    "RunRecord",
    "Scenario",
    "ScenarioResult",
    "Verdict",
    "check_run",
]

#: Step limit of a test run when the scenario names none.
DEFAULT_MAX_STEPS = 30
#: Time limit of a test run, in seconds, when the scenario names none.
DEFAULT_TIMEOUT_SECONDS = 300
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class _Model(BaseModel):
    # Models write these: a misspelt field must be an error they read, not ignored.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Expectations(_Model):
    """What a run of a scenario should do. Every field left out is not checked.

    Attributes:
        completes: The run ends ``completed`` (not by an error, the step or time limit).
        files_written: Workspace paths the run must create or change.
        files_not_written: Workspace paths the run must leave alone.
        file_contains: Path -> text the file must contain after the run.
        tools_called: Tools some Expert of the run must call.
        tools_not_called: Tools no Expert of the run may call.
        delegates_to: Experts the run must delegate to.
        no_delegation: The run must not delegate at all.
        max_steps: The run takes at most this many steps (also its step limit).
        result_contains: Texts the final answer must contain (case-insensitive).
        judge: What the verifier judges from the events and files (no deterministic check).
    """

    completes: bool = True
    files_written: list[str] = Field(default_factory=list)
    files_not_written: list[str] = Field(default_factory=list)
    file_contains: dict[str, str] = Field(default_factory=dict)
    tools_called: list[str] = Field(default_factory=list)
    tools_not_called: list[str] = Field(default_factory=list)
    delegates_to: list[str] = Field(default_factory=list)
    no_delegation: bool = False
    max_steps: int | None = Field(default=None, ge=1, le=100)
    result_contains: list[str] = Field(default_factory=list)
    judge: str | None = None


class Scenario(_Model):
    """One test scenario.

    Attributes:
        name: A short slug (``log-a-workout``), stable across rounds.
        kind: ``typical``, ``edge`` or ``failure`` (bad input the Expert must handle).
        expert: The Expert the run starts with.
        query: The user's query.
        files: Files to create in the scratch workspace before the run (path -> text).
        expect: What should happen.
        timeout_seconds: The run's time limit.
    """

    name: str
    kind: Literal["typical", "edge", "failure"] = "typical"
    expert: str
    query: str = Field(min_length=1)
    files: dict[str, str] = Field(default_factory=dict)
    expect: Expectations = Field(default_factory=Expectations)
    timeout_seconds: int = Field(default=DEFAULT_TIMEOUT_SECONDS, ge=5, le=900)

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("a scenario name is a lower-case slug: letters, digits and '-'")
        return value

    @property
    def max_steps(self) -> int:
        """The run's step limit."""
        return self.expect.max_steps or DEFAULT_MAX_STEPS


class RunRecord(_Model):
    """What one test run did, read from its events and its scratch workspace.

    Attributes:
        job_id: The test job (``perstack log --job <id>`` shows it).
        status: ``completed``, ``stoppedByError``, ``stoppedByMaxSteps``, ``timedOut`` or
            ``failedToStart``.
        steps: Steps the job took.
        duration_ms: Wall time of the run.
        tools_called: Every tool called, in order, as ``expert:tool``.
        delegations: Experts delegated to, in order.
        files_written: Workspace paths created or changed.
        final_text: The answer of the Expert the run started with.
        errors: Error messages (stopped runs, retries, a start that failed).
        log: The run's events as ``perstack log`` shows them (tools, delegations, errors).
        outputs: Where the files written were kept (under the round's folder).
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    job_id: str | None = None
    status: str
    steps: int = 0
    duration_ms: int = 0
    tools_called: list[str] = Field(default_factory=list)
    delegations: list[str] = Field(default_factory=list)
    files_written: list[str] = Field(default_factory=list)
    final_text: str = ""
    errors: list[str] = Field(default_factory=list)
    log: str = ""
    outputs: str | None = None

    @property
    def tool_names(self) -> set[str]:
        """The bare names of the tools called."""
        return {call.rsplit(":", 1)[-1] for call in self.tools_called}


class Check(_Model):
    """One deterministic check of a run against an expectation."""

    name: str
    passed: bool
    detail: str = ""


class Verdict(_Model):
    """The verifier's judgement of one run."""

    passed: bool
    reason: str = ""


class ScenarioResult(_Model):
    """A scenario's run in one round: the record, the checks and the verdict."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    scenario: str
    round: int
    record: RunRecord
    checks: list[Check] = Field(default_factory=list)
    verdict: Verdict | None = None
    needs_judgement: bool = False

    @property
    def passed(self) -> bool:
        """Every check passed, and the verifier agreed (it must, when ``judge`` is set)."""
        if not all(check.passed for check in self.checks):
            return False
        if self.verdict is not None:
            return self.verdict.passed
        return not self.needs_judgement

    @property
    def failures(self) -> list[str]:
        """Why it did not pass, one line each."""
        lines = [f"{c.name}: {c.detail}" for c in self.checks if not c.passed]
        if self.verdict is not None and not self.verdict.passed:
            lines.append(f"verifier: {self.verdict.reason or 'judged a failure'}")
        elif self.verdict is None and self.needs_judgement:
            lines.append("verifier: not judged")
        return lines

    def summary(self) -> dict[str, Any]:
        """The result in the report's JSON."""
        return {
            "round": self.round,
            "passed": self.passed,
            "jobId": self.record.job_id,
            "status": self.record.status,
            "steps": self.record.steps,
            "durationMs": self.record.duration_ms,
            "failures": self.failures,
            "verdict": self.verdict.model_dump(by_alias=True) if self.verdict else None,
        }


def _normal(path: str) -> str:
    return path.strip().removeprefix("./").strip("/")


def check_run(scenario: Scenario, record: RunRecord, files: dict[str, str | None]) -> list[Check]:
    """The deterministic checks of ``record`` against ``scenario.expect``.

    Args:
        scenario: The scenario run.
        record: What the run did.
        files: The text of the workspace files the expectations name, after the run
            (``None``: missing or not text).
    """
    expect = scenario.expect
    checks: list[Check] = []
    written = {_normal(path) for path in record.files_written}
    called = record.tool_names
    if expect.completes:
        detail = f"status {record.status}"
        if record.errors:
            detail += f": {record.errors[0]}"
        checks.append(Check(name="completes", passed=record.status == "completed", detail=detail))
    for path in expect.files_written:
        ok = _normal(path) in written
        checks.append(
            Check(
                name=f"writes {path}",
                passed=ok,
                detail="written" if ok else "not written",
            )
        )
    for path in expect.files_not_written:
        ok = _normal(path) not in written
        checks.append(
            Check(name=f"leaves {path}", passed=ok, detail="unchanged" if ok else "written")
        )
    for path, text in expect.file_contains.items():
        content = files.get(_normal(path))
        if content is None:
            checks.append(Check(name=f"{path} contains {text!r}", passed=False, detail="no file"))
            continue
        ok = text.lower() in content.lower()
        checks.append(
            Check(
                name=f"{path} contains {text!r}",
                passed=ok,
                detail="found" if ok else "not found",
            )
        )
    for tool in expect.tools_called:
        ok = tool in called
        checks.append(
            Check(name=f"calls {tool}", passed=ok, detail="called" if ok else "never called")
        )
    for tool in expect.tools_not_called:
        ok = tool not in called
        checks.append(
            Check(name=f"never calls {tool}", passed=ok, detail="not called" if ok else "called")
        )
    for expert in expect.delegates_to:
        ok = expert in record.delegations
        detail = "delegated" if ok else f"delegated to {', '.join(record.delegations) or 'nobody'}"
        checks.append(Check(name=f"delegates to {expert}", passed=ok, detail=detail))
    if expect.no_delegation:
        ok = not record.delegations
        detail = "no delegation" if ok else f"delegated to {', '.join(record.delegations)}"
        checks.append(Check(name="does not delegate", passed=ok, detail=detail))
    if expect.max_steps is not None:
        ok = record.steps <= expect.max_steps and record.status != "stoppedByMaxSteps"
        checks.append(
            Check(
                name=f"at most {expect.max_steps} steps",
                passed=ok,
                detail=f"{record.steps} steps",
            )
        )
    answer = record.final_text.lower()
    for text in expect.result_contains:
        ok = text.lower() in answer
        checks.append(
            Check(
                name=f"answer mentions {text!r}",
                passed=ok,
                detail="found" if ok else "not in the answer",
            )
        )
    return checks
