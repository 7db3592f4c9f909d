"""One grammar for every command, read from the CLI's own command tree (typer/click), so a new
command cannot go undocumented or break the conventions of docs/cli.md."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer._click.core import Command

from netmon.cli import command
from tests.conftest import REPO_ROOT, netmon_argv, netmon_env

ROOT = Path(REPO_ROOT)
# commands that neither list nor report: services, actions, a printed file or secret
NO_JSON = {"demo", "probe run", "probe unit", "reflector serve", "collector serve", "collector unit", "sites revoke",
           "tokens revoke", "alerts ack",
           "alerts silence", "alerts unsilence", "alerts token"}
# which default config a command falls back to
AGENT_COMMANDS = {"probe once", "probe run"}


def commands(cmd: Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Command]]:
    subcommands: dict[str, Command] | None = getattr(cmd, "commands", None)  # a group (typer's TyperGroup)
    if subcommands:
        for name, sub in subcommands.items():
            yield from commands(sub, (*path, name))
    else:
        yield " ".join(path), cmd


ALL = dict(commands(command()))


def options(cmd: Command) -> set[str]:
    return {opt for param in cmd.params for opt in param.opts if opt.startswith("-")}


def readme_commands() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text[text.index("<!-- the list below is compared with the CLI's commands"):]
    listed = re.search(r"```sh\n(.*?)```", block, re.S)
    assert listed is not None
    found = set()
    for line in listed.group(1).splitlines():
        words = line.split("#")[0].split()
        if words[:1] != ["netmon"]:
            continue
        found |= {name for name in ALL if words[1:1 + len(name.split())] == name.split()}
    return found


def test_the_readme_lists_every_command_the_cli_has() -> None:
    assert sorted(readme_commands()) == sorted(ALL)


def test_docs_cli_md_describes_every_command() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    described = {name for name in ALL if f"`netmon {name}" in text}
    assert sorted(described) == sorted(ALL)


def test_every_command_that_lists_or_reports_has_json() -> None:
    assert set(ALL) >= NO_JSON, "NO_JSON names a command the CLI no longer has"
    missing = sorted(name for name, cmd in ALL.items() if name not in NO_JSON and "--json" not in options(cmd))
    assert missing == []


def test_every_command_that_reads_a_config_spells_it_c_config() -> None:
    for name, cmd in ALL.items():
        # demo's --alerting-config adds to the demo's own setup; it is not the command's config
        spelled = {opt for opt in options(cmd) if "config" in opt} - {"--alerting-config"}
        if spelled:
            assert {"-c", "--config"} <= options(cmd), name
            assert spelled == {"--config"}, (name, spelled)
    for name in AGENT_COMMANDS:
        (config,) = [p for p in ALL[name].params if "--config" in p.opts]
        assert (config.envvar, str(config.default)) == ("NETMON_SITE_CONFIG", "/etc/netmon/site.yaml"), name
    for name in ("collector serve", "sites enrol", "sites revoke", "sites list", "readiness report"):
        (config,) = [p for p in ALL[name].params if "--config" in p.opts]
        assert (config.envvar, str(config.default)) == ("NETMON_CENTRAL_CONFIG", "/etc/netmon/central.yaml"), name


def test_durations_are_written_with_units_in_their_help() -> None:
    for name, option in (("alerts silence", "--for"), ("demo", "--duration")):
        (param,) = [p for p in ALL[name].params if option in p.opts]
        assert "1h30m" in (param.help or "") or "4m" in (param.help or ""), (name, param.help)


def netmon(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(netmon_argv(*args), capture_output=True, text=True, env=netmon_env(**env), timeout=60)


def test_version() -> None:
    import netmon as package

    out = netmon("--version")
    assert (out.returncode, out.stdout) == (0, f"netmon {package.__version__}\n")


@pytest.mark.parametrize(("argv", "message"), [
    (["probe", "rnu"], "netmon probe: No such command 'rnu'. Did you mean 'run'? (see netmon probe --help)"),
    (["probe", "once", "--bogus"], "netmon probe once: No such option: --bogus (see netmon probe once --help)"),
    (["probe", "run", "--log-level", "verbose"],
     "netmon probe run: Invalid value for '--log-level' (env var: 'NETMON_LOG_LEVEL'): 'verbose' is not one of "
     "'debug', 'info', 'warning', 'error'. (see netmon probe run --help)"),
    (["alerts", "list", "--state", "bogus"],
     "netmon alerts list: Invalid value for '--state': 'bogus' is not one of 'open', 'firing', 'pending', "
     "'resolved', 'all'. (see netmon alerts list --help)"),
    (["alerts", "silence", "--site", "1", "--reason", "x", "--for", "2"],
     "netmon alerts silence: Invalid value for '--for': '2' has no unit; write 2s, 2m or 2h "
     "(see netmon alerts silence --help)"),
    (["alerts", "silence", "--site", "1", "--reason", "x", "--for", "100000000d"],
     "netmon alerts silence: Invalid value for '--for': '100000000d' is longer than the 366d allowed "
     "(see netmon alerts silence --help)"),
    (["demo", "--duration", "240"],
     "netmon demo: Invalid value for '--duration': '240' has no unit; write 240s, 240m or 240h "
     "(see netmon demo --help)"),
    (["sites", "enrol"], "netmon sites enrol: Missing argument 'site_id'. (see netmon sites enrol --help)"),
], ids=["unknown-command", "unknown-option", "log-level", "state", "bare-duration", "huge-duration",
        "demo-bare-duration", "missing-argument"])
def test_a_wrong_command_line_is_one_line_and_exit_2(argv: list[str], message: str) -> None:
    out = netmon(*argv)
    assert (out.returncode, out.stdout, out.stderr) == (2, "", message + "\n")


def test_the_log_level_comes_from_the_environment_in_any_case_for_both_services(tmp_path: Path) -> None:
    # a bad value is refused the same way whichever service reads it
    for service in (["probe", "run"], ["collector", "serve"]):
        out = netmon(*service, "-c", str(tmp_path / "none.yaml"), NETMON_LOG_LEVEL="LOUD")
        assert out.returncode == 2 and "'LOUD' is not one of 'debug', 'info', 'warning', 'error'" in out.stderr
        # DEBUG is accepted: the command goes on to read its (missing) config, exit 1
        out = netmon(*service, "-c", str(tmp_path / "none.yaml"), NETMON_LOG_LEVEL="DEBUG")
        assert (out.returncode, out.stderr) == (1, f"{tmp_path / 'none.yaml'}: (top level): file not found\n")


def test_exit_1_is_an_error_in_one_line(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("x" * 43 + "\n", encoding="utf-8")
    out = netmon("alerts", "list", "--url", "http://127.0.0.1:9", "--token-file", str(token))
    assert out.returncode == 1 and out.stderr.startswith("cannot reach the collector at http://127.0.0.1:9: ")
    assert out.stderr.count("\n") == 1
    out = netmon("config", "check", "-c", str(tmp_path / "missing.yaml"))
    assert (out.returncode, out.stderr) == (1, f"{tmp_path / 'missing.yaml'}: (top level): file not found\n")
    out = netmon("alerts", "list", "--url", "http://127.0.0.1:9", "--token-file", str(tmp_path / "none"))
    assert (out.returncode, out.stderr.count("\n")) == (1, 1)
    assert out.stderr.startswith(f"cannot read the token file {tmp_path / 'none'}: No such file or directory")


def test_the_default_config_paths_and_their_variables(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text('site: {id: "1", name: "X", province: "Y"}\n', encoding="utf-8")
    if not Path("/etc/netmon/site.yaml").exists():  # this machine is no site box
        out = netmon("config", "check")
        assert (out.returncode, out.stderr) == (1, "/etc/netmon/site.yaml: (top level): file not found\n")
    out = netmon("config", "check", NETMON_SITE_CONFIG=str(site))
    assert (out.returncode, out.stdout) == (0, f"{site}: ok — site 1 (X, Y), 0 link(s), 0 platform(s), "
                                               "0 probe task(s)\n")
    out = netmon("sites", "list", NETMON_CENTRAL_CONFIG=str(tmp_path / "central.yaml"))
    assert (out.returncode, out.stderr) == (1, f"{tmp_path / 'central.yaml'}: (top level): file not found\n")
