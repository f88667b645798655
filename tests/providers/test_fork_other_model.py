"""`perstack fork --provider openai --model …`: a job run on the scripted provider, forked
onto another model (the OpenAI SDK against the fake LLM server), sends that model only
the steps after the fork point, with the whole history before it."""

from __future__ import annotations

from fake_llm_server import FakeLLMServer, OpenAIReply, RecordedRequest

from tests.helpers import Project
from tests.replay_projects import job_id_of, step_ends, team_project


def test_a_fork_on_another_model_sends_it_the_history_once(
    project: Project, llm_server: FakeLLMServer
) -> None:
    team_project(project.root)
    original = project.run("run", "lead", "Check both topics")
    job_id = job_id_of(original)
    fork_point = step_ends(original)[-2]  # the lead, once both researchers had answered
    assert fork_point["expertKey"] == "lead"

    def respond(request: RecordedRequest) -> OpenAIReply:
        return OpenAIReply(text="Both fine, says the other model.")

    llm_server.responder = respond
    env = {"OPENAI_API_KEY": "sk-openai-test", "OPENAI_BASE_URL": f"{llm_server.base_url}/v1"}
    forked = project.run(
        "fork", job_id, fork_point["checkpoint"]["id"],
        "--provider", "openai", "--model", "gpt-4.1",
        env=env,
    )  # fmt: skip

    assert forked.code == 0, forked.stderr
    assert forked.last("completeRun")["text"] == "Both fine, says the other model."
    assert len(llm_server.requests) == 1  # one step after the fork point, nothing before
    body = llm_server.requests[0].body
    assert body["model"] == "gpt-4.1"
    messages = body["messages"]
    assert messages[0]["role"] == "system" and "Lead." in messages[0]["content"]
    assert messages[1] == {"role": "user", "content": "Check both topics"}
    # The delegation and both researchers' answers, as recorded by the scripted job.
    calls = [m for m in messages if m["role"] == "assistant" and m.get("tool_calls")]
    assert [c["function"]["name"] for c in calls[0]["tool_calls"]] == ["researcher"] * 2
    answers = sorted(m["content"] for m in messages if m["role"] == "tool")
    assert answers == ["A is fine.", "B is fine."]
    settings = list(
        (project.storage / "jobs" / job_id_of(forked) / "runs").glob("*/run-setting.json")
    )
    models = {s.read_text().count('"model":"gpt-4.1"') > 0 for s in settings}
    assert True in models  # the fork's own runs are recorded with the other model
