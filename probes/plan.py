"""Turn a site config (or a plan from the centre) into the list of probe tasks.

All validation that needs the probe kinds lives here: unknown probe kinds and bad per-kind
options become one ConfigError naming every offending key.
"""

from __future__ import annotations

from pydantic import ValidationError

from netmon.config.loader import key_path, validation_problems
from netmon.config.site import SiteConfig
from netmon.contract import ProbeKind
from netmon.errors import ConfigError
from netmon.probes.base import ChecksTasks, ProbeOptions, ProbeTask
from netmon.probes.kinds import ProbeKinds


def build_tasks(config: SiteConfig, kinds: ProbeKinds, source: str = "<config>") -> list[ProbeTask]:
    problems: list[tuple[str, int | None, str]] = []
    known = kinds.names()

    options: dict[str, ProbeOptions] = {}
    for kind in known:
        raw = config.probes.get(kind, {})
        try:
            options[kind] = kinds.get(kind).Options.model_validate(raw)
        except ValidationError as exc:
            for key, _, message in validation_problems(exc):
                problems.append((key_path(("probes", kind)) + (f".{key}" if key else ""), None, message))
    for kind in config.probes:
        if kind not in kinds:
            problems.append((f"probes.{kind}", None, f"unknown probe kind; known kinds: {', '.join(known)}"))

    tasks: list[ProbeTask] = []
    for li, link in enumerate(config.links):
        for pi, kind in enumerate(link.probes):
            if kind not in kinds:
                problems.append((f"links[{li}].probes[{pi}]", None,
                                 f"unknown probe kind {kind!r}; known kinds: {', '.join(known)}"))
                continue
            probe = kinds.get(kind)
            if probe.scope != "target":
                problems.append((f"links[{li}].probes[{pi}]", None,
                                 f"{kind!r} is not run per target; configure it with the link's "
                                 f"{probe.link_section or 'platforms'!r} section"))
                continue
            if kind not in options:
                continue
            for target in link.targets:
                tasks.append(ProbeTask(
                    kind=ProbeKind(kind), key=f"{kind}/{link.name}/{target.name}", target=target.name,
                    host=target.host, port=target.port, options=options[kind], site=config.site, link=link,
                ))
        for kind in known:
            probe = kinds.get(kind)
            if probe.scope != "link" or probe.link_section is None or kind not in options:
                continue
            section = getattr(link, probe.link_section, None)
            if section is None:
                continue
            host = str(getattr(section, "host", None) or getattr(section, "server", None)
                       or getattr(section, "subnet", ""))
            tasks.append(ProbeTask(
                kind=ProbeKind(kind), key=f"{kind}/{link.name}", target=link.name, host=host,
                options=options[kind], site=config.site, link=link,
            ))
    for kind in known:
        probe = kinds.get(kind)
        if probe.scope != "platform" or kind not in options:
            continue
        for platform in config.platforms:
            tasks.append(ProbeTask(
                kind=ProbeKind(kind), key=f"{kind}/{platform.name}", target=platform.name,
                host=platform.url, options=options[kind], site=config.site, platform=platform,
            ))
    problems += [(key, None, message) for key, message, fatal in task_problems(config, tasks, kinds) if fatal]
    if problems:
        raise ConfigError(source, problems)
    return tasks


def task_problems(config: SiteConfig, tasks: list[ProbeTask],
                  kinds: ProbeKinds) -> list[tuple[str, str, bool]]:
    """(key path, message, fatal) from the kinds that check whole tasks (``ChecksTasks``)."""
    link_index = {link.name: i for i, link in enumerate(config.links)}
    out: list[tuple[str, str, bool]] = []
    for task in tasks:
        probe = kinds.get(task.kind.value)
        if not isinstance(probe, ChecksTasks):
            continue
        for problem in probe.check_task(task):
            if problem.section == "link" and task.link is not None:
                key = f"links[{link_index[task.link.name]}].{problem.key}"
            else:
                key = f"probes.{task.kind.value}.{problem.key}"
            if (key, problem.message, problem.fatal) not in out:  # one per key, not one per task
                out.append((key, problem.message, problem.fatal))
    return out
