"""From the validated config to concrete SSH targets, and from node requests to hosts.

Checks that need more than one block (pools vs. hosts, bastion references into an inventory, files
that must exist) run here and are reported like the loader's: every problem at once, each located
at FILE:LINE:COLUMN of the config.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
from sloth_kubernetes.plugin import (
    ClusterConfig,
    ConfigError,
    ConfigIssue,
    NodeRequest,
    PluginBlock,
    Problem,
    ProviderError,
    did_you_mean,
    locate,
    merge_overlay,
    parse_yaml,
    render_path,
)

from .inventory import import_hosts
from .settings import PROVIDER, Bastion, SshHost, SshPoolOptions, SshSettings

_SETTINGS: tuple[Any, ...] = ("spec", "providers", PROVIDER)


@attrs.frozen
class Target:
    """A machine as ssh reaches it: address, login, key file, and the jump host in front of it."""

    name: str
    address: str
    port: int
    user: str
    key: Path | None
    labels: dict[str, str] = attrs.field(factory=dict)
    bastion: Target | None = None
    origin: str = ""  # where it was defined, for messages

    @property
    def alias(self) -> str:
        """The name its host key is pinned under (``HostKeyAlias``)."""
        return self.name

    @property
    def cloud_id(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"ssh://{self.user}@{host}:{self.port}"

    def describe(self) -> str:
        return f"{self.name} ({self.user}@{self.address}:{self.port})"


@attrs.frozen
class Resolved:
    settings: SshSettings
    targets: dict[str, Target]  # by host name, in config order
    known_hosts: Path | None
    pools: dict[str, list[Target]]  # pool name → its hosts, one per node index

    def target_for(self, request: NodeRequest) -> Target:
        hosts = self.pools.get(request.pool, [])
        if request.index >= len(hosts):
            raise ProviderError(
                f"node {request.name}: pool {request.pool!r} has no host for index {request.index}",
                hint="the request does not match spec.nodePools; re-run `plan`",
                provider=PROVIDER,
            )
        return hosts[request.index]


def settings_of(config: ClusterConfig) -> SshSettings:
    block = config.spec.providers.get(PROVIDER)
    settings = block.settings if isinstance(block, PluginBlock) else None
    if not isinstance(settings, SshSettings):
        raise ProviderError(
            "spec.providers.ssh is not configured",
            hint="add `ssh: {hosts: [...]}` under spec.providers",
            provider=PROVIDER,
        )
    return settings


def base_dir(config: ClusterConfig) -> Path:
    """Relative paths in the config start at the (first) config file's directory."""
    return Path(config.sources[0]).resolve().parent if config.sources else Path.cwd()


def user_path(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def resolve(config: ClusterConfig) -> Resolved:
    """Targets, known_hosts and the hosts of every ssh pool; a ConfigError lists all problems."""
    settings = settings_of(config)
    base = base_dir(config)
    problems: list[Problem] = []
    hosts: list[tuple[SshHost, tuple[Any, ...] | str]] = [
        (host, (*_SETTINGS, "hosts", index)) for index, host in enumerate(settings.hosts)
    ]
    if settings.inventory is not None:
        inventory = settings.inventory
        kind = "terraform" if inventory.terraform else "ansible"
        inline = {host.name: index for index, host in enumerate(settings.hosts)}
        for imported in import_hosts(kind, user_path(inventory.path, base), inventory.output):
            if imported.host.name in inline:
                problems.append(
                    Problem(
                        (*_SETTINGS, "hosts", inline[imported.host.name], "name"),
                        f"host {imported.host.name!r} is also in the inventory ({imported.origin})",
                        "rename one of them or remove the inline entry",
                    )
                )
                continue
            hosts.append((imported.host, imported.origin))
    bare = {host.name: _target(host, origin, base) for host, origin in hosts}
    targets = {}
    for host, origin in hosts:
        target = bare[host.name]
        if host.bastion is not None:
            bastion = _bastion(host, origin, [h for h, _ in hosts], bare, base, problems)
            target = attrs.evolve(target, bastion=bastion)
        targets[host.name] = target
    known_hosts = _known_hosts(settings, base, problems)
    pools = _assign(
        config, targets, {h.bastion for h, _ in hosts if isinstance(h.bastion, str)}, problems
    )
    if problems:
        raise located_error(config, problems)
    return Resolved(settings, targets, known_hosts, pools)


def _target(host: SshHost, origin: tuple[Any, ...] | str, base: Path) -> Target:
    where = origin if isinstance(origin, str) else render_path(origin)
    key = user_path(host.key, base) if host.key else None
    return Target(
        host.name, host.address, host.port, host.user, key, dict(host.labels), origin=where
    )


def _bastion(
    host: SshHost,
    origin: tuple[Any, ...] | str,
    hosts: list[SshHost],
    bare: dict[str, Target],
    base: Path,
    problems: list[Problem],
) -> Target | None:
    path: tuple[Any, ...] = (*origin, "bastion") if isinstance(origin, tuple) else _SETTINGS
    where = "" if isinstance(origin, tuple) else f" (host {host.name!r} in {origin})"
    if isinstance(host.bastion, Bastion):
        spec = host.bastion
        key = user_path(spec.key, base) if spec.key else bare[host.name].key
        name = f"bastion-{spec.address}-{spec.port}"
        return Target(name, spec.address, spec.port, spec.user, key, origin=render_path(path))
    assert isinstance(host.bastion, str)
    bastion = bare.get(host.bastion)
    if bastion is None:
        problems.append(
            Problem(
                path,
                f"bastion {host.bastion!r} is not a configured host{where}",
                did_you_mean(host.bastion, list(bare)) or "name a host of spec.providers.ssh",
            )
        )
        return None
    if bastion.name == host.name:
        problems.append(Problem(path, f"host {host.name!r} is its own bastion{where}"))
        return None
    if any(h.name == bastion.name and h.bastion is not None for h in hosts):
        problems.append(
            Problem(
                path,
                f"bastion {bastion.name!r} is itself behind a bastion{where}; chains of jump "
                "hosts are not supported",
                "name the outermost jump host as the bastion of every host behind it",
            )
        )
        return None
    return bastion


def _known_hosts(settings: SshSettings, base: Path, problems: list[Problem]) -> Path | None:
    if settings.known_hosts is None:
        default = Path("~/.ssh/known_hosts").expanduser()
        return default if default.is_file() else None
    path = user_path(settings.known_hosts, base)
    if not path.is_file():
        problems.append(
            Problem(
                (*_SETTINGS, "knownHosts"),
                f"known_hosts file {path} does not exist",
                "point knownHosts at your known_hosts file (relative to the config file)",
            )
        )
        return None
    return path


def _assign(
    config: ClusterConfig,
    targets: dict[str, Target],
    bastions: set[str],
    problems: list[Problem],
) -> dict[str, list[Target]]:
    """The hosts of each ssh pool: by name, by selector, or (no options) the next free ones."""
    chosen: dict[str, list[Target]] = {}
    claimed: dict[str, str] = {}
    implicit = []
    for index, pool in enumerate(config.spec.node_pools):
        if pool.provider != PROVIDER:
            continue
        options = pool.options
        base: tuple[Any, ...] = ("spec", "nodePools", index)
        if not isinstance(options, SshPoolOptions) or (not options.hosts and not options.selector):
            implicit.append((index, pool))
            continue
        if options.hosts:
            selected, how = [], "`options.hosts`"
            for position, name in enumerate(options.hosts):
                if name not in targets:
                    problems.append(
                        Problem(
                            (*base, "options", "hosts", position),
                            f"no host named {name!r} under spec.providers.ssh",
                            did_you_mean(name, list(targets))
                            or f"hosts are: {', '.join(targets) or 'none'}",
                        )
                    )
                else:
                    selected.append(targets[name])
        else:
            wanted = options.selector.items()
            selected = [t for t in targets.values() if wanted <= t.labels.items()]
            how = "`options.selector` " + ", ".join(f"{k}={v}" for k, v in wanted)
        for target in selected:
            if target.name in claimed:
                problems.append(
                    Problem(
                        (*base, "options"),
                        f"host {target.name!r} is already used by pool {claimed[target.name]!r}",
                        "a machine can be one node only; select disjoint hosts",
                    )
                )
            claimed.setdefault(target.name, pool.name)
        names = list(options.hosts) if options.hosts else [t.name for t in selected]
        if len(names) != pool.count:
            problems.append(
                Problem(
                    (*base, "count"),
                    f"pool {pool.name!r} has count {pool.count} but {how} selects "
                    f"{len(names)} host(s): {', '.join(names) or 'none'}",
                    f"set `count: {len(names)}`, or change the selection",
                )
            )
        chosen[pool.name] = selected
    free = [t for name, t in targets.items() if name not in claimed and name not in bastions]
    for index, pool in implicit:
        taken, free = free[: pool.count], free[pool.count :]
        if len(taken) < pool.count:
            problems.append(
                Problem(
                    ("spec", "nodePools", index, "count"),
                    f"pool {pool.name!r} needs {pool.count} host(s) but only {len(taken)} "
                    "are not used by another pool",
                    "add hosts under spec.providers.ssh, or lower `count`",
                )
            )
        chosen[pool.name] = taken
    return chosen


def located_error(config: ClusterConfig, problems: Sequence[Problem]) -> ConfigError:
    """A ConfigError whose issues point into the config files (re-read, merged like the loader)."""
    tree: Any = None
    for source in config.sources:
        try:
            parsed, _ = parse_yaml(Path(source).read_text(encoding="utf-8"), source)
        except OSError:
            parsed = None
        if parsed is not None:
            tree = parsed if tree is None else merge_overlay(tree, parsed)
    issues = []
    for problem in problems:
        position = locate(tree, problem.path, key=problem.at_key) if tree is not None else None
        issues.append(
            ConfigIssue(
                position.file
                if position
                else (config.sources[0] if config.sources else "<config>"),
                position.line if position else 0,
                position.column if position else 0,
                render_path(problem.path),
                problem.message,
                problem.hint,
            )
        )
    return ConfigError(list(dict.fromkeys(issues)))
