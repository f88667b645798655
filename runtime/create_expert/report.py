"""The report of a create-expert session: one JSON object, and the same content as Markdown.

:func:`report_json` is the content; :func:`report_markdown` words it for people
(``create-expert-report.md`` and the screen). Both are derived from the
:class:`~runtime.create_expert.loop.Outcome` alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.create_expert.loop import Outcome

__all__ = ["REPORT_NAME", "report_json", "report_markdown", "write_report"]

REPORT_NAME = "create-expert-report.md"


def _findings(outcome: Outcome) -> dict[str, Any]:
    """The reporter's findings, or ones read off the results when it recorded none."""
    state = outcome.state
    if state.findings is not None:
        return state.findings.model_dump(by_alias=True)
    last = state.rounds[-1] if state.rounds else None
    capabilities, limitations = [], []
    for scenario in state.scenarios:
        result = last.results.get(scenario.name) if last else None
        if result is not None and result.passed:
            capabilities.append(f"{scenario.name}: {scenario.query}")
        else:
            reason = "; ".join(result.failures) if result else "not run"
            limitations.append(f"{scenario.name}: {reason}")
    return {"summary": "", "capabilities": capabilities, "limitations": limitations}


def report_json(outcome: Outcome) -> dict[str, Any]:
    """Everything the report says, as one JSON-ready object."""
    from runtime.create_expert.loop import figures_json

    state = outcome.state
    proposal = outcome.proposal
    scenarios = []
    for scenario in state.scenarios:
        results = [
            r.results[scenario.name].summary() for r in state.rounds if scenario.name in r.results
        ]
        scenarios.append(
            {
                "name": scenario.name,
                "kind": scenario.kind,
                "expert": scenario.expert,
                "query": scenario.query,
                "expect": scenario.expect.model_dump(by_alias=True, exclude_defaults=True),
                "results": results,
            }
        )
    return {
        "description": state.description,
        "mode": "improve" if state.target else "create",
        "expert": state.target,
        "jobId": outcome.job_id,
        "sessionDir": str(outcome.directory),
        "stopReason": outcome.stop_reason,
        "stable": outcome.stable,
        "rounds": [
            {
                "round": r.number,
                "draft": r.draft,
                "defined": r.defined,
                "changes": r.changes,
                "rejected": r.rejected,
                "passed": sum(1 for result in r.results.values() if result.passed),
                "run": len(r.results),
            }
            for r in state.rounds
        ],
        "experts": state.touched,
        "finalDefinitions": outcome.final_definitions,
        "scenarios": scenarios,
        "changes": [change.to_json() for change in outcome.changes],
        "findings": _findings(outcome),
        "figures": figures_json(outcome.figures),
        "perstackToml": {
            "path": str(proposal.path),
            "creates": proposal.creates and outcome.applied is not True,
            "diff": proposal.diff,
            "problem": proposal.problem,
            "applied": outcome.applied,
            "backup": str(outcome.backup) if outcome.backup else None,
        },
    }


def _shown(path: str | Path | None, base: Path) -> str:
    """``path`` relative to the project when it is inside it (as the user would type it)."""
    if path is None:
        return ""
    try:
        return str(Path(path).relative_to(base))
    except ValueError:
        return str(path)


def report_markdown(outcome: Outcome) -> str:
    """The report for people (paths relative to the project where they are inside it)."""
    data = report_json(outcome)
    base = outcome.proposal.path.parent
    rounds = data["rounds"]
    lines = [
        "# create-expert report",
        "",
        f"**Description:** {data['description']}",
        "",
        f"**Mode:** {'improve ' + data['expert'] if data['expert'] else 'create new Experts'}"
        f" · **Rounds:** {len(rounds)} · **Outcome:** {data['stopReason']}"
        f"{'' if data['stable'] else ' (not stable)'}",
        "",
        f"Job `{data['jobId']}` (`perstack log --job {data['jobId']}`); each round's "
        f"definitions are kept in `{_shown(data['sessionDir'], base)}`.",
        "",
        "## Final definitions",
        "",
    ]
    if data["finalDefinitions"]:
        lines += ["```toml", data["finalDefinitions"].rstrip(), "```", ""]
    else:
        lines += ["None: no definition that loads was written.", ""]
    lines += ["## Scenarios", ""]
    if data["scenarios"]:
        header = ["Scenario", "Kind", "Expert", *(f"Round {r['round']}" for r in rounds)]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for scenario in data["scenarios"]:
            by_round = {result["round"]: result for result in scenario["results"]}
            cells = [
                ("pass" if by_round[r["round"]]["passed"] else "FAIL")
                if r["round"] in by_round
                else "-"
                for r in rounds
            ]
            lines.append(
                f"| {scenario['name']} | {scenario['kind']} | {scenario['expert']} | "
                + " | ".join(cells)
                + " |"
            )
        lines.append("")
        for scenario in data["scenarios"]:
            lines.append(f"- **{scenario['name']}**: {scenario['query']}")
            for result in scenario["results"]:
                state = "passed" if result["passed"] else "failed: " + "; ".join(result["failures"])
                verdict = result["verdict"]
                why = ""
                if result["passed"] and verdict and verdict["reason"]:
                    why = f" (verifier: {verdict['reason']})"
                steps = f"{result['steps']} step{'' if result['steps'] == 1 else 's'}"
                lines.append(
                    f"  - round {result['round']}: {state}{why}; {steps}, job `{result['jobId']}`"
                )
        lines.append("")
    else:
        lines += ["No scenario was written.", ""]
    lines += ["## What changed between rounds, and why", ""]
    if not data["changes"]:
        lines += ["Only one round ran.", ""]
    for change in data["changes"]:
        lines.append(f"### Round {change['round']}")
        lines.append("")
        definitions = change["definitions"] or ["definitions unchanged"]
        lines += [f"- {line}" for line in definitions]
        if change["why"]:
            lines.append(f"- why: {change['why']}")
        for name, runs in change["runs"].items():
            lines.append(f"- {name}: {'; '.join(runs)}")
        lines.append("")
    findings = data["findings"]
    lines += ["## Capabilities", ""]
    if findings["summary"]:
        lines += [findings["summary"], ""]
    lines += [f"- {item}" for item in findings["capabilities"]] or ["- none shown"]
    lines += ["", "## Limitations", ""]
    lines += [f"- {item}" for item in findings["limitations"]] or ["- none found"]
    lines += ["", "## Cost", "", "| Round | Wall time | Model calls |", "|---|---|---|"]
    for figure in data["figures"]:
        lines.append(
            f"| {figure['round']} | {figure['wallMs'] / 1000:.1f} s | {figure['modelCalls']} |"
        )
    toml = data["perstackToml"]
    name = Path(toml["path"]).name
    backup = _shown(toml["backup"], base)
    lines += ["", f"## {name}", ""]
    if toml["problem"]:
        lines.append(f"Not changed: {toml['problem']}.")
    elif toml["applied"]:
        kept = f" The previous file is kept at `{backup}`." if backup else ""
        lines.append(f"Written to `{name}`.{kept}")
    elif toml["applied"] is False:
        lines.append(f"Not changed: the change was declined. `{name}` is as it was.")
    else:
        lines.append("Proposed change:")
    if toml["diff"]:
        lines += ["", "```diff", toml["diff"].rstrip(), "```"]
    return "\n".join(lines) + "\n"


def write_report(outcome: Outcome) -> Path:
    """Write ``create-expert-report.md`` next to ``perstack.toml`` and in the session's
    folder; return the first."""
    from runtime.storage.atomic import write_replace

    text = report_markdown(outcome).encode("utf-8")
    write_replace(str(outcome.directory), REPORT_NAME, text)
    folder = outcome.proposal.path.parent
    write_replace(str(folder), REPORT_NAME, text)
    return folder / REPORT_NAME
