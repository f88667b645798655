"""Loading good perstack.toml files: defaults, discovery, env files, overrides, D7/D8."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runtime.config import (
    BASE_TOOL_NAMES,
    InteractiveSkillConfig,
    McpSseSkillConfig,
    McpStdioSkillConfig,
    McpStreamableHttpSkillConfig,
    PerstackConfig,
    find_config,
    is_private_host,
    load_config,
    load_env,
    parse_config_text,
    resolve_env_paths,
    with_overrides,
)
from runtime.config.locate import TomlLocator
from runtime.errors import PerstackError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def load(tmp_path: Path, text: str) -> PerstackConfig:
    return load_config(write(tmp_path / "perstack.toml", text))


# -- defaults and field mapping ------------------------------------------------------


def test_defaults_of_d9(tmp_path: Path) -> None:
    config = load(tmp_path, '[experts.writer]\ninstruction = "Write."\n')
    assert config.provider.provider_name == "anthropic"
    assert config.provider.setting == {}
    assert config.model == "claude-sonnet-4-5"
    assert config.reasoning_budget == "low"
    assert config.runtime == "local"
    assert (config.max_steps, config.max_retries, config.timeout) == (100, 5, 300_000)
    assert config.perstack_api_base_url == "https://api.perstack.ai"
    assert config.env_path is None and config.perstack_base_skill_command is None
    assert config.path == tmp_path / "perstack.toml"
    assert config.warnings == []
    writer = config.experts["writer"]
    assert (writer.key, writer.name, writer.version) == ("writer", "writer", "1.0.0")
    assert writer.skills == {} and writer.delegates == [] and writer.tags == []
    assert writer.base_skill_filter() == ([], [])
    assert writer.base_tool_names() == list(BASE_TOOL_NAMES)


def test_empty_file_is_a_valid_config(tmp_path: Path) -> None:
    config = load(tmp_path, "")
    assert config.experts == {}


def test_every_field_maps_from_camel_case(tmp_path: Path) -> None:
    config = load(tmp_path, """
        model = "gpt-5"
        reasoningBudget = 4096
        maxSteps = 7
        maxRetries = 0
        timeout = 1000
        envPath = [".env.test"]
        perstackApiBaseUrl = "https://perstack.example.com"

        [provider]
        providerName = "openai"
        setting = { baseUrl = "https://proxy.example.com/v1", organization = "org" }

        [experts."@team/lead"]
        version = "2.1.0-beta.1"
        minRuntimeVersion = "0.0.70"
        description = "Leads."
        instruction = "Lead."
        delegates = ["writer"]
        tags = ["team", "v2_beta"]

        [experts."@team/lead".skills.fetch]
        type = "mcpStdioSkill"
        description = "Fetch pages"
        rule = "Only public pages."
        command = "uvx"
        packageName = "mcp-server-fetch"
        pick = ["fetch"]
        requiredEnv = ["FETCH_TOKEN"]
        allowedDomains = ["*.example.com"]
        lazyInit = true

        [experts."@team/lead".skills.remote]
        type = "mcpSseSkill"
        endpoint = "https://mcp.example.com/sse"
        omit = ["dangerous"]

        [experts."@team/lead".skills.local]
        type = "mcpStreamableHttpSkill"
        endpoint = "http://127.0.0.1:8123/mcp"
        allowPrivateNetwork = true

        [experts."@team/lead".skills.ask]
        type = "interactiveSkill"
        tools.askUser = { description = "Ask", inputJsonSchema = '{"type": "object"}' }

        [experts.writer]
        instruction = "Write."
    """)
    assert config.model == "gpt-5" and config.reasoning_budget == 4096
    assert (config.max_steps, config.max_retries, config.timeout) == (7, 0, 1000)
    assert config.env_path == [".env.test"]
    assert config.provider.provider_name == "openai"
    assert config.provider.setting["organization"] == "org"
    lead = config.experts["@team/lead"]
    assert (lead.key, lead.name, lead.version) == ("@team/lead", "@team/lead", "2.1.0-beta.1")
    assert lead.min_runtime_version == "0.0.70" and lead.tags == ["team", "v2_beta"]
    fetch, remote, local, ask = (lead.skills[n] for n in ("fetch", "remote", "local", "ask"))
    assert isinstance(fetch, McpStdioSkillConfig)
    assert (fetch.name, fetch.package_name, fetch.required_env) == (
        "fetch", "mcp-server-fetch", ["FETCH_TOKEN"])
    assert fetch.lazy_init is True and fetch.allowed_domains == ["*.example.com"]
    assert isinstance(remote, McpSseSkillConfig) and remote.omit == ["dangerous"]
    assert isinstance(local, McpStreamableHttpSkillConfig) and local.allow_private_network
    assert isinstance(ask, InteractiveSkillConfig)
    assert ask.tools["askUser"].input_schema == {"type": "object"}
    assert list(lead.other_skills()) == ["fetch", "remote", "local", "ask"]


def test_dump_uses_file_names_and_leaves_out_path_and_warnings(tmp_path: Path) -> None:
    config = load(tmp_path, 'maxSteps = 3\n[experts.a]\ninstruction = "x"\n')
    dumped = config.model_dump(by_alias=True)
    assert dumped["maxSteps"] == 3 and dumped["experts"]["a"]["instruction"] == "x"
    assert "path" not in dumped and "warnings" not in dumped


@pytest.mark.parametrize(("given", "expected"), [(0, "none"), (1, 1), ("high", "high")])
def test_reasoning_budget_values(tmp_path: Path, given: object, expected: object) -> None:
    value = f'"{given}"' if isinstance(given, str) else given
    assert load(tmp_path, f"reasoningBudget = {value}\n").reasoning_budget == expected


def test_unknown_keys_are_ignored(tmp_path: Path) -> None:
    config = load(tmp_path, """
        futureOption = true
        path = "not the file path"
        warnings = ["not ours"]

        [provider]
        providerName = "anthropic"
        envPath = [".env.ignored"]

        [experts.a]
        instruction = "x"
        colour = "blue"

        [experts.a.skills.ask]
        type = "interactiveSkill"
        tools.askUser = { name = "askUser", inputJsonSchema = "{}" }
    """)
    # envPath after [provider] belongs to the provider table, as upstream (spec §2.1).
    assert config.env_path is None
    assert config.path == tmp_path / "perstack.toml" and config.warnings == []
    assert "colour" not in config.experts["a"].model_dump()


def test_ollama_may_use_http_and_offline_settings_are_free_form(tmp_path: Path) -> None:
    config = load(tmp_path, """
        [provider]
        providerName = "ollama"
        setting = { baseUrl = "http://localhost:11434" }
    """)
    assert config.provider.setting["baseUrl"] == "http://localhost:11434"
    config = load(tmp_path, """
        [provider]
        providerName = "scripted"
        setting = { script = "script.json", baseUrl = 3 }
    """)
    assert config.provider.setting == {"script": "script.json", "baseUrl": 3}


# -- D7: the base skill ---------------------------------------------------------------


def test_base_skill_narrowed_by_pick_and_omit(tmp_path: Path) -> None:
    config = load(tmp_path, """
        [experts.reader]
        instruction = "Read."
        [experts.reader.skills."@perstack/base"]
        type = "mcpStdioSkill"
        command = "npx"
        packageName = "@perstack/base"
        pick = ["readTextFile", "listDirectory", "attemptCompletion", "exec"]
        omit = ["exec"]

        [experts.reader.skills.ask]
        type = "interactiveSkill"
        tools.exec = { inputJsonSchema = "{}" }
        tools.writeTextFile = { inputJsonSchema = "{}" }
    """)
    reader = config.experts["reader"]
    assert reader.base_skill_filter() == (
        ["readTextFile", "listDirectory", "attemptCompletion", "exec"], ["exec"])
    assert reader.base_tool_names() == ["attemptCompletion", "readTextFile", "listDirectory"]
    # exec is omitted and writeTextFile not picked, so "ask" may offer both (D10).
    assert list(reader.other_skills()) == ["ask"]
    assert config.warnings == []


def test_base_skill_under_another_name_is_recognised(tmp_path: Path) -> None:
    config = load(tmp_path, """
        [experts.a]
        instruction = "x"
        [experts.a.skills.base]
        type = "mcpStdioSkill"
        command = "npx"
        args = ["-y", "@perstack/base"]
        omit = ["exec"]
    """)
    assert config.experts["a"].base_skill_filter() == ([], ["exec"])
    assert config.experts["a"].other_skills() == {}


def test_pinned_base_version_and_base_command_are_ignored_with_warnings(tmp_path: Path) -> None:
    path = write(tmp_path / "perstack.toml", """
        perstackBaseSkillCommand = ["node", "base.js"]

        [experts.a]
        instruction = "x"
        [experts.a.skills."@perstack/base"]
        type = "mcpStdioSkill"
        command = "npx"
        packageName = "@perstack/base@0.0.40"
    """)
    config = load_config(path)
    assert config.warnings == [
        f"{path}:1: perstackBaseSkillCommand: ignored: the base skill is bundled and always "
        "runs in-process",
        f'{path}:8: experts.a.skills."@perstack/base".packageName: pinned version '
        '"@perstack/base@0.0.40" is ignored: the bundled base skill is always used',
    ]
    assert config.experts["a"].other_skills() == {}


def test_base_entry_of_another_type_only_narrows(tmp_path: Path) -> None:
    config = load(tmp_path, """
        [experts.a]
        instruction = "x"
        [experts.a.skills."@perstack/base"]
        type = "mcpSseSkill"
        endpoint = "https://base.example.com/sse"
        pick = ["attemptCompletion"]
    """)
    assert config.experts["a"].base_tool_names() == ["attemptCompletion"]
    assert len(config.warnings) == 1 and "mcpSseSkill is ignored" in config.warnings[0]


# -- discovery ------------------------------------------------------------------------


def test_discovery_walks_up_from_a_nested_directory(tmp_path: Path) -> None:
    config_path = write(tmp_path / "project" / "perstack.toml", "")
    nested = tmp_path / "project" / "src" / "deep"
    nested.mkdir(parents=True)
    assert find_config(nested) == config_path


def test_discovery_prefers_the_nearest_file(tmp_path: Path) -> None:
    write(tmp_path / "perstack.toml", "")
    inner = write(tmp_path / "inner" / "perstack.toml", "")
    assert find_config(tmp_path / "inner") == inner


def test_discovery_without_any_file(tmp_path: Path) -> None:
    if any((d / "perstack.toml").is_file() for d in tmp_path.parents):
        pytest.skip("a perstack.toml above the temporary directory")
    with pytest.raises(PerstackError) as caught:
        find_config(tmp_path)
    assert str(caught.value) == "perstack.toml not found. Create one or specify --config path."


def test_explicit_config_is_relative_to_cwd(tmp_path: Path) -> None:
    target = write(tmp_path / "configs" / "team.toml", '[experts.a]\ninstruction = "x"\n')
    found = find_config(tmp_path, "configs/team.toml")
    assert found == target and found.is_absolute()
    assert load_config(found).experts["a"].instruction == "x"


def test_explicit_config_that_does_not_exist(tmp_path: Path) -> None:
    write(tmp_path / "perstack.toml", "")  # present, but not what was asked for
    with pytest.raises(PerstackError) as caught:
        find_config(tmp_path, "other.toml")
    assert str(caught.value) == 'Given config path "other.toml" is not found'


def test_explicit_config_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(PerstackError, match='Given config path "dir" is not found'):
        find_config(tmp_path, "dir")


@pytest.mark.parametrize("url", ["https://raw.githubusercontent.com/x/perstack.toml",
                                 "http://example.com/perstack.toml"])
def test_remote_config_is_not_supported(tmp_path: Path, url: str) -> None:
    with pytest.raises(PerstackError) as caught:
        find_config(tmp_path, url)
    assert str(caught.value) == (
        "Remote config (--config <url>) is not supported yet; use a local perstack.toml"
    )


# -- env ------------------------------------------------------------------------------


def test_env_precedence(tmp_path: Path) -> None:
    write(tmp_path / ".env", "A=from-env\nB=from-env\nC=from-env\nREF=${A}\n")
    write(tmp_path / ".env.local", "B=from-local\nD=from-local\nC=from-local\n")
    env = load_env([".env", ".env.local", "missing.env"], tmp_path,
                   process_env={"A": "from-process", "C": "", "PATH": "/bin"})
    assert env == {
        "A": "from-process",  # the process wins
        "B": "from-env",      # the earlier file wins
        "C": "from-env",      # an empty process value does not count
        "D": "from-local",
        "REF": "${A}",        # no interpolation, as upstream
        "PATH": "/bin",
    }


def test_env_paths_may_point_elsewhere(tmp_path: Path) -> None:
    write(tmp_path / "secrets" / "keys.env", "ANTHROPIC_API_KEY=sk-test\n")
    env = load_env(["secrets/keys.env"], tmp_path, process_env={})
    assert env == {"ANTHROPIC_API_KEY": "sk-test"}


def test_env_uses_the_process_environment_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSTACK_CONFIG_TEST_VAR", "yes")
    assert load_env([], tmp_path)["PERSTACK_CONFIG_TEST_VAR"] == "yes"


def test_resolve_env_paths(tmp_path: Path) -> None:
    plain = load(tmp_path, "")
    assert resolve_env_paths(plain, []) == [".env", ".env.local"]
    assert resolve_env_paths(None, []) == [".env", ".env.local"]
    configured = load(tmp_path, 'envPath = [".env.team"]\n')
    assert resolve_env_paths(configured, []) == [".env.team"]
    assert resolve_env_paths(configured, ["a.env", "b.env"]) == ["a.env", "b.env"]


# -- overrides ------------------------------------------------------------------------


def test_overrides_beat_the_file(tmp_path: Path) -> None:
    config = load(tmp_path, 'model = "m1"\nmaxSteps = 10\nreasoningBudget = "high"\n')
    updated = with_overrides(config, model="m2", max_steps="20", max_retries=1,
                             timeout="5000", reasoning_budget="0", runtime="local")
    assert (updated.model, updated.max_steps, updated.max_retries, updated.timeout) == (
        "m2", 20, 1, 5000)
    assert updated.reasoning_budget == "none" and updated.runtime == "local"
    assert config.model == "m1" and config.max_steps == 10  # the original is untouched
    assert updated.path == config.path


def test_no_overrides_keep_the_file(tmp_path: Path) -> None:
    config = load(tmp_path, 'model = "m1"\nmaxSteps = 10\n')
    assert with_overrides(config) == config


def test_provider_override_starts_from_empty_settings(tmp_path: Path) -> None:
    config = load(tmp_path, """
        [provider]
        providerName = "openai"
        setting = { baseUrl = "https://proxy.example.com" }
    """)
    assert with_overrides(config, provider="openai").provider.setting == {
        "baseUrl": "https://proxy.example.com"}
    switched = with_overrides(config, provider="anthropic").provider
    assert (switched.provider_name, switched.setting) == ("anthropic", {})


@pytest.mark.parametrize(("options", "message"), [
    ({"runtime": "docker"}, "--runtime docker: unsupported runtime; supported: local"),
    ({"max_steps": "0"}, "--max-steps 0: must be >= 1"),
    ({"max_retries": -1}, "--max-retries -1: must be >= 0"),
    ({"timeout": "soon"}, "--timeout soon: expected an integer"),
    ({"reasoning_budget": "huge"},
     "--reasoning-budget huge: expected one of none, minimal, low, medium, high "
     "or an integer >= 0"),
    ({"model": " "}, "--model: must not be empty"),
])
def test_bad_overrides(tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(PerstackError) as caught:
        with_overrides(load(tmp_path, ""), **options)
    assert str(caught.value) == message


def test_unknown_provider_override(tmp_path: Path) -> None:
    with pytest.raises(PerstackError, match=r"^--provider mistral: unknown provider; expected"):
        with_overrides(load(tmp_path, ""), provider="mistral")


# -- private hosts and line location --------------------------------------------------


@pytest.mark.parametrize("host", [
    "localhost", "api.localhost", "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1",
    "172.31.255.255", "192.168.1.1", "169.254.169.254", "0.0.0.0", "::1", "[::1]", "::",
    "fe80::1", "fc00::1", "fd12:3456::1", "::ffff:192.168.0.1", "::ffff:127.0.0.1",
    "127.1", "2130706433", "0x7f000001", "LOCALHOST",
])
def test_private_hosts(host: str) -> None:
    assert is_private_host(host)


@pytest.mark.parametrize("host", [
    "example.com", "8.8.8.8", "172.32.0.1", "172.15.255.255", "192.169.0.1", "11.0.0.1",
    "2001:db8::1", "::ffff:8.8.8.8", "10.example.com", "fcexample.com",
])
def test_public_hosts(host: str) -> None:
    assert not is_private_host(host)


def test_private_endpoint_allowed_with_allow_private_network(tmp_path: Path) -> None:
    config = load(tmp_path, """
        [experts.a]
        instruction = "x"
        [experts.a.skills.local]
        type = "mcpSseSkill"
        endpoint = "http://localhost:3000/sse"
        allowPrivateNetwork = true
    """)
    assert config.experts["a"].skills["local"].endpoint == "http://localhost:3000/sse"


def test_locator_is_not_confused_by_strings_and_arrays() -> None:
    text = textwrap.dedent('''
        title = """
        [experts.fake]
        instruction = "not a key"
        """
        literal = \'\'\'
        [not.a.table]\'\'\'
        list = [
          "a", # comment with ] and [
          { inner = 1, "quoted key" = 2 },
          """multi
        line""",
          "d",
        ]
        dotted.key."with.dot" = 1

        [experts."my-expert".skills."@perstack/base"]
        pick = ["a"]

        [[servers]]
        name = "one"
        [[servers]]
        name = "two"
        [servers.extra]
        x = 1
    ''').lstrip("\n")
    locator = TomlLocator(text)
    assert locator.line_of(("title",)) == 1
    assert locator.line_of(("experts", "fake")) == 16  # only "experts" is real
    assert locator.line_of(("literal",)) == 5
    assert locator.line_of(("not", "a", "table")) == 1  # nothing recorded: line 1
    assert locator.line_of(("list",)) == 7
    assert locator.line_of(("list", 0)) == 8
    assert locator.line_of(("list", 1, "inner")) == 9
    assert locator.line_of(("list", 1, "quoted key")) == 9
    assert locator.line_of(("list", 2)) == 10
    assert locator.line_of(("list", 3)) == 12
    assert locator.line_of(("dotted", "key", "with.dot")) == 14
    base = ("experts", "my-expert", "skills", "@perstack/base")
    assert locator.line_of(base + ("pick",)) == 17
    assert locator.line_of(base + ("omit",)) == 16  # missing key: its table's header
    assert locator.line_of(("experts", "my-expert")) == 16
    assert locator.line_of(("servers", 0, "name")) == 20
    assert locator.line_of(("servers", 1, "name")) == 22
    assert locator.line_of(("servers", 1, "extra", "x")) == 24


def test_parse_config_text_of_an_unsaved_buffer(tmp_path: Path) -> None:
    buffer_path = tmp_path / "perstack.toml"
    config = parse_config_text('[experts.a]\ninstruction = "draft"\n', buffer_path)
    assert config.experts["a"].instruction == "draft" and config.path == buffer_path
    assert not buffer_path.exists()
