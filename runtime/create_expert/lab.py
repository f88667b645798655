"""The lab: everything create-expert knows about its rounds, kept on disk as it happens.

The team's tools (:mod:`runtime.create_expert.skill`) call into one :class:`Lab`: the
designer's definitions become the round's draft (validated, saved as
``round-<n>/perstack.toml``), the tester's scenarios are run through
:class:`~runtime.create_expert.testrun.DraftRunner`, the deterministic checks are made here,
and the verifier's verdicts and the reporter's findings are recorded. The loop
(:mod:`runtime.create_expert.loop`) reads the evidence from here to decide whether to go on.
Nothing the models say is needed to decide it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from runtime.create_expert.drafts import (
    DraftError,
    experts_of,
    merge_definitions,
    parse_definitions,
    validate_text,
)
from runtime.create_expert.scenarios import Scenario, ScenarioResult, Verdict, check_run
from runtime.create_expert.testrun import DraftRunner

__all__ = ["Lab", "LabState", "RoundState", "Findings"]

#: Test runs of one round running at once.
PARALLEL_RUNS = 4
#: Characters of each written file shown by ``inspectRun``.
FILE_PREVIEW = 2000


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Findings(_Model):
    """The reporter's conclusions."""

    summary: str = ""
    capabilities: list[str] = Field(default_factory=list)
    limitations: list[str] = Field(default_factory=list)


class RoundState(_Model):
    """One round: its draft, why it changed, and each scenario's result.

    Attributes:
        number: 1, 2, …
        draft: The draft's file (``None`` until a draft loads).
        defined: The Experts written this round (empty: the last round's draft carried).
        changes: What the designer changed and why.
        rejected: Problems of definitions written this round that would not load.
        results: By scenario name.
    """

    number: int
    draft: str | None = None
    defined: list[str] = Field(default_factory=list)
    changes: str = ""
    rejected: list[str] = Field(default_factory=list)
    results: dict[str, ScenarioResult] = Field(default_factory=dict)

    def passed(self, names: list[str]) -> bool:
        """Every scenario in ``names`` ran this round and passed."""
        return bool(names) and all(
            name in self.results and self.results[name].passed for name in names
        )


class LabState(_Model):
    """Everything saved in ``session.json``."""

    description: str
    target: str | None = None
    max_rounds: int = 3
    scenarios: list[Scenario] = Field(default_factory=list)
    rounds: list[RoundState] = Field(default_factory=list)
    touched: list[str] = Field(default_factory=list)
    findings: Findings | None = None


class Lab:
    """The state of one create-expert session and the operations on it.

    Args:
        directory: Where the session is kept (``<storage>/create-expert/<job id>``).
        base_text: The project's ``perstack.toml`` when the session started ('' if none).
        config_path: That file's path (drafts are validated as if they were it).
        state: The session's description, target and limits.
        runner: Runs scenarios against drafts.
        progress: Told one line whenever something happens (the CLI prints it).
    """

    def __init__(
        self,
        directory: Path,
        base_text: str,
        config_path: Path,
        state: LabState,
        runner: DraftRunner,
        progress: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.directory = directory
        self.base_text = base_text
        self.config_path = config_path
        self.state = state
        self.runner = runner
        self.progress = progress
        self.existing = _expert_keys(base_text)
        self._drafts: dict[int, str] = {}
        directory.mkdir(parents=True, exist_ok=True)
        self.save()

    # --- rounds -------------------------------------------------------------------------

    @property
    def round(self) -> RoundState:
        """The round in progress."""
        return self.state.rounds[-1]

    def begin_round(self) -> RoundState:
        """Start the next round; the last draft carries over until the designer writes."""
        previous = self.state.rounds[-1] if self.state.rounds else None
        number = previous.number + 1 if previous else 1
        state = RoundState(number=number)
        self.state.rounds.append(state)
        if previous is not None and previous.number in self._drafts:
            # Every round keeps its own copy of the definitions it tested.
            state.draft = self._keep_draft(number, self._drafts[previous.number])
        self.save()
        return state

    def _keep_draft(self, number: int, text: str) -> str:
        self._drafts[number] = text
        folder = self.directory / f"round-{number}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "perstack.toml").write_text(text, encoding="utf-8")
        return str(folder / "perstack.toml")

    def draft_text(self, number: int | None = None) -> str | None:
        """The draft ``perstack.toml`` of round ``number`` (default: the current one)."""
        number = self.round.number if number is None else number
        return self._drafts.get(number)

    def stable(self) -> bool:
        """Every scenario passed in this round and the one before (the loop may stop)."""
        names = [scenario.name for scenario in self.state.scenarios]
        rounds = self.state.rounds
        return len(rounds) >= 2 and rounds[-1].passed(names) and rounds[-2].passed(names)

    def scenario(self, name: str) -> Scenario | None:
        return next((s for s in self.state.scenarios if s.name == name), None)

    # --- the designer -------------------------------------------------------------------

    def write_definitions(self, text: str, changes: str) -> str:
        """Merge the definitions into the round's draft, validate and save it.

        Raises:
            DraftError: the definitions break a rule or the draft would not load; the
                message is for the designer, and the problem is recorded.
        """
        try:
            definitions = parse_definitions(text)
            self._check_scope(definitions.keys)
            base = self.draft_text() or self.base_text
            merged = merge_definitions(base, definitions)
            validate_text(merged, self.config_path)
        except DraftError as error:
            self.round.rejected.append(str(error))
            self.save()
            self.progress(f"round {self.round.number}: definitions rejected: {error}")
            raise DraftError(
                f"The definitions were not saved, because the draft would not load:\n{error}"
            ) from None
        number = self.round.number
        state = self.round
        state.draft = self._keep_draft(number, merged)
        (self.directory / f"round-{number}" / "definitions.toml").write_text(text, encoding="utf-8")
        state.defined = list(dict.fromkeys([*state.defined, *definitions.keys]))
        state.changes = "\n".join(part for part in (state.changes, changes.strip()) if part)
        self.state.touched = list(dict.fromkeys([*self.state.touched, *definitions.keys]))
        self.save()
        self.progress(f"round {number}: designer wrote {', '.join(definitions.keys)}")
        return (
            f"Saved the draft of round {number} ({state.draft}) with "
            f"{', '.join(definitions.keys)}. It loads."
        )

    def _check_scope(self, keys: tuple[str, ...]) -> None:
        target = self.state.target
        if target is None:
            taken = [key for key in keys if key in self.existing]
            if taken:
                raise DraftError(
                    f"{', '.join(taken)} already exist(s) in the project's perstack.toml: "
                    "choose new keys (improving an existing Expert needs --expert)"
                )
            return
        family = _family(self.base_text, target)
        foreign = [key for key in keys if key in self.existing and key not in family]
        if foreign:
            delegates = ", ".join(sorted(family - {target})) or "none"
            raise DraftError(
                f"Only {target} and its delegates ({delegates}) may be changed, "
                f"not {', '.join(foreign)}"
            )

    # --- the tester ---------------------------------------------------------------------

    def define_scenarios(self, raw: list[Any]) -> str:
        """Add scenarios (or replace those of the same name)."""
        scenarios = []
        for index, item in enumerate(raw):
            try:
                scenarios.append(Scenario.model_validate(item))
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(part) for part in first["loc"])
                raise DraftError(f"scenarios[{index}].{where}: {first['msg']}") from None
        known = {scenario.name: scenario for scenario in self.state.scenarios}
        for scenario in scenarios:
            known[scenario.name] = scenario
        self.state.scenarios = list(known.values())
        self.save()
        names = ", ".join(f"{s.name} ({s.kind})" for s in scenarios)
        self.progress(f"round {self.round.number}: tester wrote scenarios {names}")
        return f"{len(self.state.scenarios)} scenarios defined: " + ", ".join(known)

    async def run_scenarios(self, names: list[str] | None) -> str:
        """Run scenarios (default: all) against this round's draft, a few at a time."""
        draft = self.draft_text()
        if draft is None:
            raise DraftError("No draft loads yet this session: the designer writes one first")
        chosen = [self.scenario(name) for name in names] if names else list(self.state.scenarios)
        unknown = [name for name, s in zip(names or [], chosen, strict=False) if s is None]
        if unknown or not chosen:
            raise DraftError(
                f"Unknown scenario {', '.join(unknown)}" if unknown else "No scenario defined yet"
            )
        gate = asyncio.Semaphore(PARALLEL_RUNS)

        async def one(scenario: Scenario) -> ScenarioResult:
            async with gate:
                return await self._run_one(draft, scenario)

        results = await asyncio.gather(*(one(s) for s in chosen if s is not None))
        self.save()
        return "\n".join(_result_line(result) for result in results)

    async def _run_one(self, draft: str, scenario: Scenario) -> ScenarioResult:
        number = self.round.number
        outputs = self.directory / f"round-{number}" / "runs" / scenario.name
        record, files = await self.runner.run(draft, scenario, outputs)
        result = ScenarioResult(
            scenario=scenario.name,
            round=number,
            record=record,
            checks=check_run(scenario, record, files),
            needs_judgement=bool(scenario.expect.judge),
        )
        if record.files_written:
            result.record.outputs = str(outputs / "files")
        self.round.results[scenario.name] = result
        self.progress(f"round {number}: {_result_line(result)}")
        return result

    # --- the verifier -------------------------------------------------------------------

    def inspect_run(self, name: str) -> str:
        """This round's run of ``name`` in full: checks, events, files, answer."""
        scenario = self.scenario(name)
        result = self.round.results.get(name)
        if scenario is None or result is None:
            raise DraftError(f"Scenario {name} has not run in round {self.round.number}")
        record = result.record
        expectations = scenario.expect.model_dump_json(by_alias=True, exclude_defaults=True)
        parts = [
            f"Scenario {name} ({scenario.kind}), round {result.round}: {scenario.expert} was "
            f"asked {scenario.query!r}",
            f"Expectations: {expectations}",
            f"Status: {record.status}; {record.steps} steps; job {record.job_id}",
            "Checks:",
            *(f"  {'PASS' if c.passed else 'FAIL'} {c.name}: {c.detail}" for c in result.checks),
            f"Delegations: {', '.join(record.delegations) or 'none'}",
            f"Files written: {', '.join(record.files_written) or 'none'}",
        ]
        for path in record.files_written[:10]:
            text = _read(Path(record.outputs or ""), path)
            if text is not None:
                parts += [f"--- {path}", text[:FILE_PREVIEW]]
        parts += ["Final answer:", record.final_text or "(none)", "Events:", record.log]
        if scenario.expect.judge:
            parts.insert(2, f"To judge: {scenario.expect.judge}")
        return "\n".join(parts)

    def record_verdicts(self, raw: list[Any]) -> str:
        """Record the verifier's verdicts; a pass over a failed check is refused."""
        lines = []
        for item in raw:
            if not isinstance(item, dict) or not isinstance(item.get("scenario"), str):
                raise DraftError('Each verdict is {"scenario", "passed", "reason"}')
            name = item["scenario"]
            result = self.round.results.get(name)
            if result is None:
                lines.append(f"{name}: not run in round {self.round.number}; ignored")
                continue
            passed = bool(item.get("passed"))
            failed = [c.name for c in result.checks if not c.passed]
            if passed and failed:
                lines.append(f"{name}: cannot pass, checks failed: {', '.join(failed)}")
                passed = False
            result.verdict = Verdict(passed=passed, reason=str(item.get("reason", "")))
            lines.append(f"{name}: {'passed' if result.passed else 'failed'}")
            self.progress(
                f"round {self.round.number}: verifier: {name} "
                f"{'passed' if result.passed else 'failed'}"
            )
        self.save()
        return "\n".join(lines)

    # --- the reporter -------------------------------------------------------------------

    def record_findings(self, summary: str, capabilities: list[str], limitations: list[str]) -> str:
        self.state.findings = Findings(
            summary=summary, capabilities=list(capabilities), limitations=list(limitations)
        )
        self.save()
        self.progress("reporter: findings recorded")
        return "Findings recorded."

    # --- everyone -----------------------------------------------------------------------

    def status_text(self) -> str:
        """The facts of the session so far, for any member of the team."""
        state = self.state
        mode = f"improving {state.target}" if state.target else "creating new Experts"
        current = self.round if state.rounds else None
        lines = [
            f"Round {current.number if current else 0} of at most {state.max_rounds}; {mode}.",
            f"Description: {state.description}",
        ]
        if self.existing:
            lines.append(f"Experts already in the project: {', '.join(self.existing)}")
        draft = self.draft_text() if current else None
        if draft is not None and state.touched:
            lines += ["Current definitions:", experts_of(draft, state.touched).rstrip()]
        elif state.target:
            lines += [
                "Current definitions:",
                experts_of(self.base_text, sorted(_family(self.base_text, state.target))).rstrip(),
            ]
        else:
            lines.append("No draft yet.")
        if current is not None and current.rejected:
            lines.append("Rejected this round: " + " | ".join(current.rejected))
        lines.append(f"Scenarios ({len(state.scenarios)}):")
        for scenario in state.scenarios:
            lines.append(
                f"- {scenario.name} [{scenario.kind}] {scenario.expert}: {scenario.query!r}"
            )
            for past in state.rounds:
                result = past.results.get(scenario.name)
                if result is None:
                    continue
                verdict = "passed" if result.passed else "FAILED: " + "; ".join(result.failures)
                lines.append(f"    round {past.number}: {verdict}")
        return "\n".join(lines)

    def save(self) -> None:
        """Write ``session.json`` (atomically)."""
        from runtime.storage.atomic import write_replace

        data = self.state.model_dump_json(by_alias=True, indent=2).encode()
        write_replace(str(self.directory), "session.json", data)


def _result_line(result: ScenarioResult) -> str:
    record = result.record
    state = "passed" if result.passed else "failed"
    if result.needs_judgement and result.verdict is None and all(c.passed for c in result.checks):
        state = "checks passed, to be judged"
    steps = f"{record.steps} step{'' if record.steps == 1 else 's'}"
    line = f"{result.scenario}: {state} ({record.status}, {steps}, job {record.job_id})"
    failures = [f for f in result.failures if not f.startswith("verifier: not judged")]
    return line + ("; " + "; ".join(failures) if failures else "")


def _read(folder: Path, relative: str) -> str | None:
    try:
        return (folder / relative).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _expert_keys(text: str) -> list[str]:
    import tomllib

    try:
        experts = tomllib.loads(text).get("experts", {})
    except tomllib.TOMLDecodeError:
        return []
    return list(experts) if isinstance(experts, dict) else []


def _family(text: str, target: str) -> set[str]:
    """``target`` and the Experts it delegates to, transitively, in ``text``."""
    import tomllib

    experts = tomllib.loads(text).get("experts", {}) if text else {}
    family, todo = set(), [target]
    while todo:
        key = todo.pop()
        if key in family:
            continue
        family.add(key)
        table = experts.get(key)
        if isinstance(table, dict):
            todo += [d for d in table.get("delegates", []) if isinstance(d, str)]
    return family
