"""Configuration: validated once, faults named by key and position, env overrides."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from callcenter.errors import ConfigError
from callcenter.settings import load_settings
from callcenter.yamlsource import YamlSourceError, load_yaml

ENV = {
    "CALLCENTER__AMI__SECRET": "s3cret",
    "CALLCENTER__HTTP__API_TOKENS": '["0123456789abcdef"]',
}
SAMPLE = Path(__file__).parents[2] / "config" / "hotline.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_sample_configuration_is_valid_with_secrets_from_env() -> None:
    settings = load_settings(SAMPLE, ENV)
    assert settings.ami.secret.get_secret_value() == "s3cret"
    assert settings.fastagi.port == 4573


def test_missing_secrets_are_named() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(SAMPLE, {})
    keys = {p.key for p in info.value.problems}
    assert keys == {"ami.secret", "http.api_tokens"}


def test_bad_value_is_reported_with_key_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path, "ami:\n  secret: x\n  port: seventy\nhttp:\n  api_tokens: [0123456789abcdefg]\n"
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path, {})
    (problem,) = info.value.problems
    assert (problem.key, problem.line, problem.column) == ("ami.port", 3, 3)
    assert f"{path}:3:3: ami.port:" in str(info.value)


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "ami:\n  secret: x\n  pasword: y\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, {"CALLCENTER__HTTP__API_TOKENS": '["0123456789abcdef"]'})
    (problem,) = info.value.problems
    assert problem.key == "ami.pasword" and problem.line == 3


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, "ami:\n  secret: x\n  port: 5038\n")
    settings = load_settings(path, {**ENV, "CALLCENTER__AMI__PORT": "6038"})
    assert settings.ami.port == 6038


def test_bad_database_url_and_short_token(tmp_path: Path) -> None:
    path = write(
        tmp_path, "ami: {secret: x}\nhttp: {api_tokens: [short]}\ndatabase: {url: mysql://x}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path, {})
    assert {p.key for p in info.value.problems} == {"http.api_tokens", "database.url"}


def test_yaml_aliases_tags_and_size_are_refused() -> None:
    with pytest.raises(YamlSourceError, match="aliases"):
        load_yaml("a: &x [1, 2]\nb: *x\n")
    with pytest.raises(YamlSourceError, match="tag"):
        load_yaml("a: !!python/object:os.system [ls]\n")
    with pytest.raises(YamlSourceError, match="larger"):
        load_yaml("a: " + "x" * 1_000_001)


def test_yaml_syntax_error_has_position(tmp_path: Path) -> None:
    path = write(tmp_path, "ami:\n  secret: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, ENV)
    assert info.value.problems[0].line is not None


def test_check_config_command_exit_codes(tmp_path: Path) -> None:
    bad = write(tmp_path, "ami:\n  secret: x\n  port: 0\n")
    run = [sys.executable, "-m", "callcenter", "check-config"]
    result = subprocess.run([*run, str(bad)], capture_output=True, text=True, env=ENV, check=False)
    assert result.returncode == 2
    assert "ami.port" in result.stderr and ":3:3:" in result.stderr
    good = subprocess.run([*run, str(SAMPLE)], capture_output=True, text=True, env=ENV, check=False)
    assert good.returncode == 0, good.stderr


def test_acd_section_of_the_sample_converts_to_core_configs() -> None:
    acd = load_settings(SAMPLE, ENV).acd
    queues = {q.id: q for q in acd.queue_configs()}
    assert queues["repair"].strategy == "longest_idle" and queues["repair"].wrap_up == 10
    assert queues["complaints"].required_skills == {"complaints": 3}
    agents = {a.id: a for a in acd.agent_configs()}
    assert agents["agent1001"].queues == {"repair": 1, "complaints": 2}


def test_unknown_strategy_is_named_with_its_position(tmp_path: Path) -> None:
    path = write(tmp_path, "ami: {secret: x}\nacd:\n  queues:\n    q1:\n      strategy: random\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, {"CALLCENTER__HTTP__API_TOKENS": '["0123456789abcdef"]'})
    (problem,) = info.value.problems
    assert problem.key == "acd.queues.q1.strategy" and problem.line == 5
    assert "unknown strategy" in problem.message


def test_agent_serving_an_unknown_queue_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "ami: {secret: x}\nacd:\n  agents:\n    a1: {queues: {nope: 1}}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, {"CALLCENTER__HTTP__API_TOKENS": '["0123456789abcdef"]'})
    assert "unknown queue 'nope'" in str(info.value)
