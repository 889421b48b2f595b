"""`--help` and built-in commands start without importing plugins or other commands' modules."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from sloth_kubernetes.cli.lazy import BUILTIN_COMMANDS


def test_the_builtin_command_table_matches_what_the_modules_register():
    modules = sorted({module for module, _ in BUILTIN_COMMANDS.values()})
    for module in modules:
        group = click.Group()
        importlib.import_module(f"sloth_kubernetes.cli.{module}").register(group)
        table = {name for name, (owner, _) in BUILTIN_COMMANDS.items() if owner == module}
        assert set(group.commands) == table, module
        for name, command in group.commands.items():
            assert command.get_short_help_str(limit=1000) == BUILTIN_COMMANDS[name][1], name


def _run(code: str, cache: Path, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "XDG_CACHE_HOME": str(cache), **env},
    )
    return result.stdout


PROBE = (
    "import sys, contextlib, io\n"
    "from sloth_kubernetes.cli.main import run\n"
    "out = io.StringIO()\n"
    "with contextlib.redirect_stdout(out):\n"
    "    code = run({args!r})\n"
    "plugins = sorted(m for m in sys.modules if m.startswith(('sloth_provider', 'sloth_mesh',"
    " 'sloth_distro', 'sloth_cni', 'sloth_storage', 'sloth_addon')))\n"
    "commands = sorted(m for m in sys.modules if m.startswith('sloth_kubernetes.cli.')"
    " and m.endswith('_cmd'))\n"
    "print(code, len(plugins), commands)\n"
    "print(out.getvalue())\n"
)


def test_help_imports_neither_plugins_nor_command_modules_once_known(tmp_path):
    # First run on a fresh cache: whether a plugin adds commands is unknown, so all load.
    first = _run(PROBE.format(args=["--help"]), tmp_path)
    code, plugins, _ = first.splitlines()[0].split(" ", 2)
    assert code == "0"
    assert int(plugins) > 0
    # Now the cache knows no installed plugin adds a command: nothing but the group loads.
    second = _run(PROBE.format(args=["--help"]), tmp_path)
    assert second.splitlines()[0] == "0 0 []"
    assert "plan " in second
    assert "Show what `up` would do" in second
    # A built-in command imports its own module and nothing else of the CLI's.
    third = _run(PROBE.format(args=["config", "templates"]), tmp_path)
    code, _, commands = third.splitlines()[0].split(" ", 2)
    assert (code, commands) == ("0", "['sloth_kubernetes.cli.config_cmd']")


HELLO = (
    "import click\n"
    "from sloth_kubernetes.hookspecs import hookimpl\n"
    "@hookimpl\n"
    "def register_commands(cli):\n"
    "    @cli.command()\n"
    "    def hello():\n"
    '        """Say hello from a plugin."""\n'
    "        click.echo('hello from the plugin')\n"
)


def test_a_plugin_command_is_listed_and_runs_every_time(tmp_path, plugin_site):
    env = {"PYTHONPATH": str(plugin_site("hello", HELLO))}
    for _ in range(2):  # unknown cache, then a cache that names the plugin
        listing = _run(PROBE.format(args=["--help"]), tmp_path / "cache", **env)
        assert "Say hello from a plugin." in listing
        ran = _run(PROBE.format(args=["hello"]), tmp_path / "cache", **env)
        assert ran.splitlines()[0].startswith("0 ")
        assert "hello from the plugin" in ran


def test_broken_plugin_warning_still_shows_when_plugins_load_lazily(tmp_path, plugin_site):
    site = plugin_site("broken", "import this_module_does_not_exist\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": str(site)}
    for _ in range(2):  # the second run loads plugins lazily, on the first command needing them
        result = subprocess.run(
            [sys.executable, "-m", "sloth_kubernetes.cli", "plugins"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert result.returncode == 0
        assert (
            result.stderr.count("warning: plugin 'broken' (broken-sloth-plugin) was skipped") == 1
        )


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["--help"], None),
        ([], None),
        (["plan", "-f", "x.yaml"], "plan"),
        (["-o", "json", "--log-format", "json", "--state", "sqlite:///s.db", "status"], "status"),
        (["--state=sqlite:///s.db", "--debug", "hello"], "hello"),
    ],
)
def test_the_command_word_skips_the_group_options_values(args, command):
    from sloth_kubernetes.cli.main import _command_word

    assert _command_word(args) == command
