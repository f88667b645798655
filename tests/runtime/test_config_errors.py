"""Malformed perstack.toml files: every problem is one located line, all are reported."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runtime.config import load_config, parse_config_text
from runtime.errors import ConfigError, PerstackError

# A valid expert to put next to the broken parts, so each test breaks exactly one thing.
GOOD_EXPERT = '[experts.helper]\ninstruction = "Help."\n'


def problems_of(tmp_path: Path, text: str) -> tuple[Path, list[str]]:
    """Write ``text`` (dedented, line 1 = its first line) and return the problems."""
    path = tmp_path / "perstack.toml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return path, caught.value.problems


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, """
        model = "x"

        [experts.a]
        instruction = "hi
    """)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:4: ")
    assert "(at line" not in problems[0]


def test_toml_error_at_end_of_document_points_at_last_line(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, 'model = "x"\n[experts.a]\ninstruction = [1,\n')
    assert problems[0].startswith(f"{path}:3: ")
    assert "end of document" not in problems[0]


def test_duplicate_table_is_a_syntax_error(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, """
        [experts.a]
        instruction = "x"
        [experts.a]
        instruction = "y"
    """)
    assert problems[0].startswith(f"{path}:3: ")


def test_wrong_type_for_max_steps(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, 'model = "m"\nmaxSteps = "ten"\n' + GOOD_EXPERT)
    assert problems == [f'{path}:2: maxSteps: expected an integer, got string "ten"']


def test_max_steps_must_be_positive(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, "maxSteps = 0\n" + GOOD_EXPERT)
    assert problems == [f"{path}:1: maxSteps: must be >= 1, got integer 0"]


def test_negative_max_retries(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, 'model = "m"\n\nmaxRetries = -1\n' + GOOD_EXPERT)
    assert problems == [f"{path}:3: maxRetries: must be >= 0, got integer -1"]


def test_float_timeout_is_not_an_integer(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, "timeout = 1.5\n" + GOOD_EXPERT)
    assert problems == [f"{path}:1: timeout: expected an integer, got float 1.5"]


def test_missing_instruction_points_at_the_expert_header(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, """
        model = "m"

        [experts.writer]
        description = "Writes."
    """)
    assert problems == [f"{path}:3: experts.writer.instruction: required field is missing"]


def test_empty_instruction(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, '[experts.writer]\ninstruction = ""\n')
    assert problems == [f"{path}:2: experts.writer.instruction: must not be empty"]


def test_unknown_skill_type(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, """
        [experts.writer]
        instruction = "x"

        [experts.writer.skills.fs]
        type = "dockerSkill"
        command = "npx"
    """)
    assert problems == [
        f'{path}:5: experts.writer.skills.fs.type: unknown skill type "dockerSkill"; '
        "expected one of mcpStdioSkill, mcpSseSkill, mcpStreamableHttpSkill, interactiveSkill"
    ]


def test_skill_without_type(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, """
        [experts.writer]
        instruction = "x"
        [experts.writer.skills.fs]
        command = "npx"
    """)
    assert len(problems) == 1
    assert problems[0].startswith(
        f"{path}:3: experts.writer.skills.fs.type: required field is missing"
    )


def test_skill_field_error_drops_the_union_tag_from_the_path(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, """
        [experts.writer]
        instruction = "x"
        [experts.writer.skills.fs]
        type = "mcpStdioSkill"
        args = ["x"]
    """)
    assert problems == [f"{path}:3: experts.writer.skills.fs.command: required field is missing"]


@pytest.mark.parametrize(
    ("key", "shown"),
    [("Writer", "Writer"), ("my.expert", '"my.expert"'), ("@Org/x", '"@Org/x"'),
     ("-lead", "-lead")],
)
def test_bad_expert_key(tmp_path: Path, key: str, shown: str) -> None:
    text = f'model = "m"\n[experts."{key}"]\ninstruction = "x"\n'
    path, problems = problems_of(tmp_path, text)
    assert len(problems) == 1
    assert problems[0].startswith(
        f'{path}:2: experts.{shown}: invalid expert key "{key}": use lowercase letters'
    )


def test_delegate_not_defined(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, """
        [experts.lead]
        instruction = "x"
        delegates = [
          "helper",
          "@org/researcher",
        ]
    """ + GOOD_EXPERT)
    assert problems == [
        f'{path}:5: experts.lead.delegates[1]: delegate "@org/researcher" is not defined in '
        "perstack.toml; registry look-ups are not supported yet"
    ]


def test_delegate_with_an_invalid_key(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, '[experts.lead]\ninstruction = "x"\ndelegates = ["Helper"]\n')
    assert len(problems) == 1
    assert problems[0].startswith(
        f'{path}:3: experts.lead.delegates[0]: invalid expert key "Helper"'
    )


def test_self_delegation(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, '[experts.lead]\ninstruction = "x"\ndelegates = ["lead"]\n')
    assert problems == [
        f'{path}:3: experts.lead.delegates[0]: expert "lead" cannot delegate to itself'
    ]


def test_duplicate_interactive_tool_names(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, """
        [experts.lead]
        instruction = "x"

        [experts.lead.skills.ask]
        type = "interactiveSkill"
        tools.askUser = { inputJsonSchema = "{}" }

        [experts.lead.skills.confirm]
        type = "interactiveSkill"
        [experts.lead.skills.confirm.tools.askUser]
        description = "Ask again"
        inputJsonSchema = "{}"
    """)
    assert problems == [
        f'{path}:10: experts.lead.skills.confirm.tools.askUser: tool "askUser" is offered by '
        'both skill "ask" and skill "confirm"'
    ]


def test_interactive_tool_clashing_with_a_base_tool(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, """
        [experts.lead]
        instruction = "x"
        [experts.lead.skills.ask]
        type = "interactiveSkill"
        tools.exec = { inputJsonSchema = "{}" }
    """)
    assert problems == [
        f'{path}:5: experts.lead.skills.ask.tools.exec: tool "exec" is offered by both skill '
        '"@perstack/base" and skill "ask"; rename it, or narrow the base skill with pick/omit'
    ]


def test_delegate_tool_clashing_with_another_delegate(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, """
        [experts.lead]
        instruction = "x"
        delegates = ["writer", "@team/writer"]
        [experts.writer]
        instruction = "x"
        [experts."@team/writer"]
        instruction = "x"
    """)
    assert problems == [
        f'{path}:3: experts.lead.delegates[1]: tool "writer" is offered by both delegate '
        '"writer" and delegate "@team/writer"'
    ]


def test_bad_input_json_schema(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, """
        [experts.lead]
        instruction = "x"
        [experts.lead.skills.ask]
        type = "interactiveSkill"
        [experts.lead.skills.ask.tools.askUser]
        description = "Ask"
        inputJsonSchema = '{"type": "object",'
    """)
    assert len(problems) == 1
    assert problems[0].startswith(
        f"{path}:7: experts.lead.skills.ask.tools.askUser.inputJsonSchema: not valid JSON: "
    )


def test_input_json_schema_must_be_an_object(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, """
        [experts.lead]
        instruction = "x"
        [experts.lead.skills.ask]
        type = "interactiveSkill"
        tools = { askUser = { inputJsonSchema = "[]" } }
    """)
    assert problems == [
        f"{path}:5: experts.lead.skills.ask.tools.askUser.inputJsonSchema: must be a JSON "
        "object (a JSON Schema), got list"
    ]


def test_stdio_skill_with_both_package_name_and_args(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, """
        [experts.lead]
        instruction = "x"
        [experts.lead.skills.fetch]
        type = "mcpStdioSkill"
        command = "uvx"
        packageName = "mcp-server-fetch"
        args = ["mcp-server-fetch"]
    """)
    assert problems == [
        f"{path}:3: experts.lead.skills.fetch: Skill fetch has both packageName and args. "
        "Please provide only one of them."
    ]


def test_stdio_skill_with_neither_package_name_nor_args(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, """
        [experts.lead]
        instruction = "x"
        [experts.lead.skills.fetch]
        type = "mcpStdioSkill"
        command = "uvx"
        args = []
    """)
    assert problems == [
        f"{path}:3: experts.lead.skills.fetch: Skill fetch has no packageName or args. "
        "Please provide one of them."
    ]


def test_sse_endpoint_over_plain_http(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, """
        [experts.lead]
        instruction = "x"
        [experts.lead.skills.remote]
        type = "mcpSseSkill"
        endpoint = "http://mcp.example.com/sse"
    """)
    assert problems == [
        f"{path}:5: experts.lead.skills.remote.endpoint: endpoint http://mcp.example.com/sse "
        "must use HTTPS; set allowPrivateNetwork = true to allow plain HTTP"
    ]


def test_loopback_streamable_endpoint_without_allow_private_network(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, """
        [experts.lead]
        instruction = "x"
        [experts.lead.skills.local]
        type = "mcpStreamableHttpSkill"
        endpoint = "http://127.0.0.1:9/mcp"
    """)
    assert problems == [
        f"{path}:5: experts.lead.skills.local.endpoint: endpoint http://127.0.0.1:9/mcp is a "
        "private or loopback address; set allowPrivateNetwork = true to allow it"
    ]


def test_endpoint_that_is_not_a_url(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, """
        [experts.lead]
        instruction = "x"
        [experts.lead.skills.remote]
        type = "mcpSseSkill"
        endpoint = "mcp.example.com/sse"
    """)
    assert problems == [
        f'{path}:5: experts.lead.skills.remote.endpoint: endpoint "mcp.example.com/sse" is '
        "not a valid http(s) URL"
    ]


def test_punycode_allowed_domain(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, """
        [experts.lead]
        instruction = "x"
        [experts.lead.skills.fetch]
        type = "mcpStdioSkill"
        command = "uvx"
        packageName = "mcp-server-fetch"
        allowedDomains = ["*.example.com", "xn--80ak6aa92e.com"]
    """)
    assert problems == [
        f"{path}:7: experts.lead.skills.fetch.allowedDomains[1]: Punycode domains (xn--) are "
        "not allowed to prevent homograph attacks. Use ASCII domains only."
    ]


def test_bad_tag(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, '[experts.lead]\ninstruction = "x"\ntags = ["ok", "Not OK"]\n')
    assert len(problems) == 1
    assert problems[0].startswith(f'{path}:3: experts.lead.tags[1]: invalid tag "Not OK"')


def test_bad_semver(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, '[experts.lead]\ninstruction = "x"\nversion = "1.0"\n')
    assert problems == [
        f'{path}:3: experts.lead.version: "1.0" is not a semantic version like 1.0.0'
    ]


def test_runtime_docker_is_unsupported(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, 'runtime = "docker"\n' + GOOD_EXPERT)
    assert problems == [f'{path}:1: runtime: unsupported runtime "docker"; supported: local']


def test_unknown_reasoning_budget(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, 'reasoningBudget = "huge"\n' + GOOD_EXPERT)
    assert problems == [
        f"{path}:1: reasoningBudget: expected one of none, minimal, low, medium, high or an "
        'integer >= 0, got string "huge"'
    ]


def test_negative_reasoning_budget(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, "reasoningBudget = -5\n" + GOOD_EXPERT)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:1: reasoningBudget: expected one of")


def test_unknown_provider(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, '[provider]\nproviderName = "mistral"\n')
    assert len(problems) == 1
    assert problems[0].startswith(
        f'{path}:2: provider.providerName: unknown provider "mistral"; expected one of anthropic'
    )


def test_provider_base_url_over_http(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, """
        [provider]
        providerName = "openai"

        [provider.setting]
        baseUrl = "http://api.example.com/v1"
    """)
    assert problems == [
        f'{path}:5: provider.setting.baseUrl: URL must use HTTPS, got '
        '"http://api.example.com/v1" (only ollama may use http)'
    ]


def test_perstack_api_base_url_over_http(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, 'perstackApiBaseUrl = "http://api.example.com"\n')
    assert problems == [f"{path}:1: perstackApiBaseUrl: perstackApiBaseUrl must use HTTPS"]


def test_experts_must_be_a_table(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, 'model = "m"\nexperts = ["a"]\n')
    assert problems == [f"{path}:2: experts: expected a table, got an array"]


def test_several_problems_are_all_reported_in_file_order(tmp_path: Path) -> None:
    path, problems = problems_of(tmp_path, """
        maxSteps = "ten"

        [experts.lead]
        delegates = ["ghost"]

        [experts.lead.skills.remote]
        type = "mcpSseSkill"
        endpoint = "http://10.0.0.8/sse"

        [experts.Helper]
        instruction = "x"
    """)
    assert [line.split(": ", 2)[:2] for line in problems] == [
        [f"{path}:1", "maxSteps"],
        [f"{path}:3", "experts.lead.instruction"],
        [f"{path}:4", "experts.lead.delegates[0]"],
        [f"{path}:8", "experts.lead.skills.remote.endpoint"],
        [f"{path}:10", "experts.Helper"],
    ]


def test_parse_config_text_names_the_given_path(tmp_path: Path) -> None:
    buffer = tmp_path / "unsaved" / "perstack.toml"  # never written
    with pytest.raises(ConfigError) as caught:
        parse_config_text('[experts.a]\ninstruction = 3\n', buffer)
    assert caught.value.problems == [
        f"{buffer}:2: experts.a.instruction: expected a string, got integer 3"
    ]


def test_unreadable_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(PerstackError) as caught:
        load_config(tmp_path / "missing.toml")
    assert "\n" not in str(caught.value)
    assert "missing.toml" in str(caught.value)


def test_invalid_utf8_is_located(tmp_path: Path) -> None:
    path = tmp_path / "perstack.toml"
    path.write_bytes(b'model = "m"\nmodel2 = "\xff"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [f"{path}:2: not valid UTF-8 text"]
