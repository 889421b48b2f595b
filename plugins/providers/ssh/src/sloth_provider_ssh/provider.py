"""What the hooks do: provision (check, pin), list (reachable as recorded), destroy (clean up).

"Provision" creates nothing: it picks each node's host, settles its host key (see
:mod:`.hostkeys`), proves the host answers over SSH with that key, and returns the node records.
Facts are gathered later by the prepare phase.
"""

from __future__ import annotations

import shlex
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sloth_kubernetes.plugin import (
    ClusterContext,
    ConfigError,
    NodeRecord,
    NodeRequest,
    PartialProvisionError,
    ProviderError,
)

from . import connect, hostkeys
from .connect import Outcome, Pins
from .knownhosts import fingerprint, write_pin_file
from .resolve import Resolved, Target, resolve
from .settings import PROVIDER

#: What sloth-kubernetes itself puts on a machine; `destroy` removes exactly these. Distribution,
#: mesh and add-on plugins remove their own files through :func:`uninstall_commands` (the seam for
#: a future per-node uninstall hook).
OWN_PATHS = ("/etc/sloth-kubernetes", "/var/lib/sloth-kubernetes", "/var/log/sloth-kubernetes")
OPERATOR_KEY_MARK = "sloth-kubernetes:"
#: The cluster a machine belongs to, written at provisioning: the ssh provider's "cloud tag".
MARKER = f"{OWN_PATHS[0]}/cluster"

T = TypeVar("T")
R = TypeVar("R")


def _parallel(context: ClusterContext, items: Sequence[T], work: Callable[[T], R]) -> list[R]:
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(context.concurrency, len(items)))) as pool:
        return list(pool.map(work, items))


def _recorded(context: ClusterContext) -> dict[str, NodeRecord]:
    if context.state is None:
        return {}
    return {r.name: r for r in context.state.list_nodes(context.name) if r.provider == PROVIDER}


def _recorded_key(target: Target, records: Iterable[NodeRecord]) -> str | None:
    """The key recorded for this machine (as a node, or as the bastion of a node)."""
    for record in records:
        if record.cloud_id == target.cloud_id and record.host_key:
            return record.host_key
        bastion = record.extra.get("bastion") or {}
        if bastion.get("cloud_id") == target.cloud_id and bastion.get("host_key"):
            return str(bastion["host_key"])
    return None


def _unique(targets: Iterable[Target]) -> list[Target]:
    return list({t.alias: t for t in targets}.values())


def settle_pins(
    context: ClusterContext, resolved: Resolved, targets: Sequence[Target], workdir: Path
) -> tuple[Pins, dict[str, hostkeys.Pin]]:
    """Decide every target's (and bastion's) pin; scan new keys only with --trust-new-host-keys."""
    records = list(_recorded(context).values())
    lines = hostkeys.known_lines(resolved.known_hosts)
    everyone = _unique([*(t.bastion for t in targets if t.bastion), *targets])
    pins: dict[str, hostkeys.Pin] = {}
    unknown = []
    for target in everyone:
        pin = hostkeys.choose(target, resolved.known_hosts, _recorded_key(target, records), lines)
        if pin is None:
            unknown.append(target)
        else:
            pins[target.alias] = pin
    if unknown and not context.trust_new_host_keys:
        raise hostkeys.refuse_unknown(unknown, resolved.known_hosts)
    # Bastions first: a host behind one is scanned through it, so its pin must exist already.
    for target in sorted(unknown, key=lambda t: t.bastion is not None):
        via = _pins_file(workdir, pins) if target.bastion is not None else None
        key = connect.keyscan(
            target, "ssh-ed25519", via=via, timeout=resolved.settings.connect_timeout
        )
        if key is None:
            raise ProviderError(
                f"{target.describe()} presented no ed25519 host key to trust",
                hint="check that it is reachable and runs sshd with an ed25519 host key, or put "
                "its key in your known_hosts file",
                provider=PROVIDER,
            )
        pins[target.alias] = hostkeys.Pin(key, "the key trusted on first use", new=True)
    return _pins_file(workdir, pins), pins


def _pins_file(workdir: Path, pins: dict[str, hostkeys.Pin]) -> Pins:
    path = write_pin_file(workdir / "known_hosts", ((a, p.key) for a, p in pins.items()))
    return Pins(path, {alias: pin.key for alias, pin in pins.items()})


def _failure(target: Target, outcome: Outcome, pins: Pins, pin: hostkeys.Pin) -> ProviderError:
    via = f" through bastion {target.bastion.describe()}" if target.bastion else ""
    tail = outcome.output.strip().splitlines()[-1:] or [""]
    if outcome.problem in ("key-changed", "key-type"):
        presented = connect.keyscan(target, pin.key.split()[0], via=pins)
        if presented is not None:
            return hostkeys.mismatch(
                target, pin.key, pin.source, presented, "the key the host presents now"
            )
        return hostkeys.HostKeyMismatch(
            f"{target.describe()} did not present the pinned host key {fingerprint(pin.key)} "
            f"(from {pin.source}){via}: {tail[0]}",
            hint="compare the host's keys with the pinned one out of band",
            provider=PROVIDER,
        )
    if outcome.problem == "auth":
        key = target.key or "ssh's default identities / ssh-agent"
        return ProviderError(
            f"{target.describe()} refused the login of {target.user!r} with key {key}{via}",
            hint="check `user` and `key` of this host (the key's public half must be in the "
            "user's ~/.ssh/authorized_keys)",
            provider=PROVIDER,
        )
    return ProviderError(
        f"cannot reach {target.describe()}{via}: {tail[0]}",
        hint="check the address, port and firewall; the connection starts from this machine",
        provider=PROVIDER,
    )


def check_reachable(
    context: ClusterContext,
    targets: Sequence[Target],
    pins: Pins,
    chosen: dict[str, hostkeys.Pin],
    timeout: int,
) -> dict[str, ProviderError]:
    """``true`` over ssh on every target (bastions first). A bastion that fails, or a host whose
    key or login is refused, stops everything (one error lists every failure); hosts that only
    do not answer are returned (alias → error), so the others can go on without them."""
    bastions = _unique(t.bastion for t in targets if t.bastion)
    for is_bastion, group in ((True, bastions), (False, _unique(targets))):
        outcomes = _parallel(
            context, group, lambda t: connect.run(t, pins, "true", timeout=timeout)
        )
        failed = [
            (target, outcome)
            for target, outcome in zip(group, outcomes, strict=True)
            if outcome.problem is not None
        ]
        errors = [_failure(t, o, pins, chosen[t.alias]) for t, o in failed]
        refused = [
            e for (_t, o), e in zip(failed, errors, strict=True) if o.problem != "unreachable"
        ]
        if is_bastion:
            refused = errors  # every host behind a failed bastion is out of reach
        if len(refused) == 1:
            raise refused[0]
        if refused:
            raise ProviderError(
                f"{len(refused)} hosts failed the SSH check:\n"
                + "\n".join(f"  - {e.message}" for e in refused),
                hint=refused[0].hint,
                provider=PROVIDER,
            )
        if not is_bastion:
            return {t.alias: e for (t, _o), e in zip(failed, errors, strict=True)}
    return {}


def provision(context: ClusterContext, requests: Sequence[NodeRequest]) -> list[NodeRecord]:
    """Pick, pin, check and claim each request's host. Hosts that do not answer fail alone
    (:class:`PartialProvisionError`) when others do: one lost machine never holds up the rest."""
    resolved = resolve(context.config)
    targets = [resolved.target_for(r) for r in requests]
    requests_all, targets_all = list(requests), list(targets)
    timeout = resolved.settings.connect_timeout
    unreachable: dict[str, ProviderError] = {}
    with tempfile.TemporaryDirectory(prefix="sloth-ssh-") as workdir:
        if context.dry_run:
            chosen = _dry_run_pins(context, resolved, targets)
        else:
            pins, chosen = settle_pins(context, resolved, targets, Path(workdir))
            unreachable = check_reachable(context, targets, pins, chosen, timeout)
            if unreachable and len(unreachable) == len(_unique(targets)):
                errors = list(unreachable.values())
                if len(errors) == 1:
                    raise errors[0]
                raise ProviderError(
                    f"{len(errors)} hosts failed the SSH check:\n"
                    + "\n".join(f"  - {e.message}" for e in errors),
                    hint=errors[0].hint,
                    provider=PROVIDER,
                )
            pairs = [(r, t) for r, t in zip(requests, targets, strict=True)
                     if t.alias not in unreachable]  # fmt: skip
            requests = [r for r, _t in pairs]
            targets = [t for _r, t in pairs]
            _audit_trusted(context, targets, requests, chosen)
            _claim(context, targets, pins, timeout)
            if resolved.settings.install_operator_key:
                _install_operator_key(context, targets, pins, timeout)
    records = [
        _record(context, request, target, chosen, resolved.settings.install_operator_key)
        for request, target in zip(requests, targets, strict=True)
    ]
    if unreachable:
        failed = {
            request.name: unreachable[target.alias].message
            for request, target in zip(requests_all, targets_all, strict=True)
            if target.alias in unreachable
        }
        raise PartialProvisionError(
            f"{len(failed)} host(s) did not answer: {', '.join(sorted(failed))}",
            records=records,
            failed=failed,
            provider=PROVIDER,
        )
    return records


def _dry_run_pins(
    context: ClusterContext, resolved: Resolved, targets: Sequence[Target]
) -> dict[str, hostkeys.Pin]:
    records = list(_recorded(context).values())
    lines = hostkeys.known_lines(resolved.known_hosts)
    chosen = {}
    for target in _unique([*(t.bastion for t in targets if t.bastion), *targets]):
        recorded = _recorded_key(target, records)
        pin = hostkeys.choose(target, resolved.known_hosts, recorded, lines)
        if pin is not None:
            chosen[target.alias] = pin
    return chosen


def _audit_trusted(
    context: ClusterContext,
    targets: Sequence[Target],
    requests: Sequence[NodeRequest],
    chosen: dict[str, hostkeys.Pin],
) -> None:
    nodes = {t.alias: r.name for t, r in zip(targets, requests, strict=True)}
    for target in _unique([*(t.bastion for t in targets if t.bastion), *targets]):
        pin = chosen[target.alias]
        if not pin.new:
            continue
        resources = {
            "host": target.name,
            "address": f"{target.address}:{target.port}",
            "node": nodes.get(target.alias, ""),
            "key_type": pin.key.split()[0],
            "fingerprint": fingerprint(pin.key),
        }
        if context.state is not None:
            context.state.audit_append(
                command="trust-host-key",
                cluster=context.name,
                outcome="trusted",
                resources=resources,
            )
        context.event(
            "provision",
            f"trusted host key {resources['fingerprint']} of {target.describe()} on first use",
            node=nodes.get(target.alias),
        )


def _sudo(user: str) -> str:
    return "" if user == "root" else "sudo -n "


def _claim(context: ClusterContext, targets: Sequence[Target], pins: Pins, timeout: int) -> None:
    """Write the cluster marker (our "tag"), refusing a machine that belongs to another cluster."""
    name = shlex.quote(context.name)

    def claim(target: Target) -> Outcome:
        sudo = _sudo(target.user)
        script = (
            f'if [ -f {MARKER} ] && [ "$({sudo}cat {MARKER})" != {name} ]; then '
            f'echo "cluster $({sudo}cat {MARKER})"; exit 3; fi; '
            f"{sudo}mkdir -p {OWN_PATHS[0]} && "
            f"printf '%s\\n' {name} | {sudo}tee {MARKER} >/dev/null"
        )
        return connect.run(target, pins, script, timeout=timeout)

    outcomes = _parallel(context, targets, claim)
    for target, outcome in zip(targets, outcomes, strict=True):
        if outcome.problem is None:
            continue
        if outcome.exit_status == 3:
            raise ProviderError(
                f"{target.describe()} already belongs to {outcome.output.strip()} "
                f"({MARKER} on the machine)",
                hint="destroy that cluster first, or select another host; a machine can be a "
                "node of one cluster only",
                provider=PROVIDER,
            )
        raise ProviderError(
            f"could not write {MARKER} on {target.describe()} (exit status "
            f"{outcome.exit_status}): {outcome.output[-300:]}",
            hint="a non-root user needs passwordless sudo (`sudo -n`)",
            provider=PROVIDER,
        )


def _install_operator_key(
    context: ClusterContext, targets: Sequence[Target], pins: Pins, timeout: int
) -> None:
    if context.operator is None:
        raise ProviderError(
            "installOperatorKey is set but no operator key is available to this run",
            hint="run it through `sloth-kubernetes up` (it creates the cluster's operator key)",
            provider=PROVIDER,
        )
    key_type, blob = context.operator.public_key.split()[:2]
    line = f"{key_type} {blob} {OPERATOR_KEY_MARK}{context.name}"
    quoted = shlex.quote(line)
    script = (
        "umask 077 && mkdir -p ~/.ssh && touch ~/.ssh/authorized_keys && "
        f"(grep -qxF {quoted} ~/.ssh/authorized_keys || printf '%s\\n' {quoted} "
        ">> ~/.ssh/authorized_keys)"
    )
    outcomes = _parallel(context, targets, lambda t: connect.run(t, pins, script, timeout=timeout))
    for target, outcome in zip(targets, outcomes, strict=True):
        if outcome.problem is not None:
            raise ProviderError(
                f"could not add the operator key on {target.describe()} "
                f"(exit status {outcome.exit_status}): {outcome.output[-300:]}",
                provider=PROVIDER,
            )


def _record(
    context: ClusterContext,
    request: NodeRequest,
    target: Target,
    chosen: dict[str, hostkeys.Pin],
    operator_key: bool,
) -> NodeRecord:
    pin = chosen.get(target.alias)
    bastion: dict[str, Any] | None = None
    if target.bastion is not None:
        b = target.bastion
        b_pin = chosen.get(b.alias)
        bastion = {
            "name": b.name,
            "address": b.address,
            "port": b.port,
            "user": b.user,
            "identity_file": str(b.key) if b.key else None,
            "cloud_id": b.cloud_id,
            "host_key": b_pin.key if b_pin else None,
        }
    return NodeRecord(
        cluster=context.name,
        name=request.name,
        pool=request.pool,
        provider=PROVIDER,
        cloud_id=target.cloud_id,
        roles=request.roles,
        public_address=None if target.bastion else target.address,
        private_address=target.address if target.bastion else None,
        host_key=pin.key if pin else None,
        labels=dict(request.labels),
        extra={
            "host": target.name,
            "identity_file": str(target.key) if target.key else None,
            "host_labels": dict(target.labels),
            "bastion": bastion,
            "operator_key_installed": operator_key,
            "host_key_source": pin.source if pin else None,
        },
        ssh_port=target.port,
        ssh_user=target.user,
    )


# --- records back to targets (list, destroy) -------------------------------------------------


def target_of(record: NodeRecord) -> Target:
    """How to reach a recorded node, from its record alone (the config may have changed)."""
    extra = record.extra
    bastion = None
    if extra.get("bastion"):
        b = extra["bastion"]
        bastion = Target(
            str(b["name"]),
            str(b["address"]),
            int(b["port"]),
            str(b["user"]),
            Path(b["identity_file"]) if b.get("identity_file") else None,
        )
    return Target(
        str(extra.get("host") or record.name),
        str(record.address),
        record.ssh_port,
        record.ssh_user,
        Path(extra["identity_file"]) if extra.get("identity_file") else None,
        bastion=bastion,
    )


def recorded_pins(records: Sequence[NodeRecord], workdir: Path) -> Pins:
    keys: dict[str, str] = {}
    for record in records:
        target = target_of(record)
        if record.host_key:
            keys[target.alias] = record.host_key
        bastion = record.extra.get("bastion") or {}
        if target.bastion is not None and bastion.get("host_key"):
            keys[target.bastion.alias] = str(bastion["host_key"])
    return Pins(write_pin_file(workdir / "known_hosts", keys.items()), keys)


def list_reachable(context: ClusterContext) -> list[NodeRecord]:
    """Recorded nodes whose host is configured, answers with its recorded key, and is marked as
    belonging to this cluster (a destroyed node has lost its marker, so it is no longer listed)."""
    records = [r for r in _recorded(context).values() if r.host_key]
    try:
        configured = {t.cloud_id for t in resolve(context.config).targets.values()}
        records = [r for r in records if r.cloud_id in configured]
    except ConfigError:
        pass  # e.g. an inventory file gone: the records still say where the machines are
    marker = f"cat {MARKER} 2>/dev/null || true"
    with tempfile.TemporaryDirectory(prefix="sloth-ssh-") as workdir:
        pins = recorded_pins(records, Path(workdir))
        outcomes = _parallel(
            context, records, lambda r: connect.run(target_of(r), pins, _sudo(r.ssh_user) + marker)
        )
    alive = []
    for record, outcome in zip(records, outcomes, strict=True):
        if outcome.problem is not None:
            context.event(
                "inventory",
                f"{record.name} is not reachable as recorded ({outcome.problem})",
                node=record.name,
                status="failed",
            )
        elif outcome.output.strip() == context.name:
            alive.append(record)
    return alive


def uninstall_commands(context: ClusterContext, record: NodeRecord) -> list[str]:
    """Shell commands that remove what sloth-kubernetes installed on ``record``'s machine.

    The seam for plugins: once a per-node uninstall hook exists, its commands (distribution,
    mesh, add-ons) are inserted before ours. Until then this removes :data:`OWN_PATHS` and the
    operator key line, nothing else.
    """
    commands = [f"{_sudo(record.ssh_user)}rm -rf -- {' '.join(OWN_PATHS)}"]
    if record.extra.get("operator_key_installed"):
        mark = shlex.quote(f" {OPERATOR_KEY_MARK}{context.name}$")
        commands.append(
            "if [ -f ~/.ssh/authorized_keys ]; then "
            f"grep -v -- {mark} ~/.ssh/authorized_keys > ~/.ssh/.sloth-ak.tmp; "
            "cat ~/.ssh/.sloth-ak.tmp > ~/.ssh/authorized_keys; rm -f ~/.ssh/.sloth-ak.tmp; fi"
        )
    return commands


def destroy(context: ClusterContext, nodes: Sequence[NodeRecord]) -> list[str]:
    """Clean up each machine and leave it running; unreachable ones are reported, not removed."""
    nodes = [n for n in nodes if n.provider == PROVIDER]
    if context.dry_run or not nodes:
        return []  # nothing removed: a dry run only reports
    with tempfile.TemporaryDirectory(prefix="sloth-ssh-") as workdir:
        pins = recorded_pins(nodes, Path(workdir))

        def clean(record: NodeRecord) -> Outcome:
            if not record.host_key:
                return Outcome(255, "no recorded host key", "unreachable")
            script = " && ".join(uninstall_commands(context, record))
            return connect.run(target_of(record), pins, script)

        outcomes = _parallel(context, nodes, clean)
    removed = []
    for record, outcome in zip(nodes, outcomes, strict=True):
        if outcome.problem is None:
            removed.append(record.name)
            context.event(
                "destroy",
                "cleaned up; the machine is left running",
                node=record.name,
                status="done",
            )
        else:
            context.event(
                "destroy",
                f"not cleaned up ({outcome.problem}): {outcome.output[-200:]}",
                node=record.name,
                status="failed",
            )
    return removed
