"""Lightweight Linux hosts on this machine, each in its own network namespace with its own sshd.

Each host gets a netns with ``eth0`` (a veth onto a bridge we own), an address from the network's
CIDR, private mount/UTS/pid namespaces, overlays over the machine's directories as its disk, and an
sshd with its *own* ed25519 host key accepting only the operator key. Hosts are fully detached:
they outlive the process that created them (they are the cluster), and everything about them is
recorded under ``state_dir`` so a later process can list, repair, destroy or sweep them.

Two modes: ``"fast"`` (tini + sshd over the machine's filesystem, see :mod:`.fast_mode`) and
``"systemd"`` (systemd as PID 1 in systemd-nspawn over a debootstrap'd Debian, see
:mod:`.systemd_mode`).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
from sloth_kubernetes.plugin import ProviderError

from . import _runtime as rt
from . import fast_mode, neighbours
from . import network as net
from ._system import (
    PROVIDER,
    is_alive,
    require_linux_root,
    run,
)
from .keys import ensure_host_key
from .network import LocalNetwork

MODES = ("fast", "systemd")
BOOT_TIMEOUT = 60.0

__all__ = [
    "LocalHost",
    "LocalNetwork",
    "create_hosts",
    "destroy_hosts",
    "known_hosts_lines",
    "list_hosts",
    "sweep",
]


@attrs.frozen
class LocalHost:
    """One running (or recorded) local host, as an operator connects to it."""

    name: str
    address: str
    port: int
    host_public_key: str  # "ssh-ed25519 AAAA…", pin it in known_hosts
    init_pid: int  # machine-side pid of the host's PID 1
    netns: str
    root_dir: Path  # the host's directory in state_dir (disk layers, key, console.log)
    mode: str
    alive: bool = True
    #: Started by a creator that was killed before it saw the host ready: its processes run but
    #: its PID 1 is not recorded yet. The next ``create_hosts`` adopts it (no new processes).
    booting: bool = False


def _mode_module(mode: str) -> Any:
    if mode == "fast":
        return fast_mode
    if mode == "systemd":
        from . import systemd_mode

        return systemd_mode
    raise ProviderError(
        f"unknown local host mode {mode!r}",
        hint="use mode 'fast' or 'systemd'",
        provider=PROVIDER,
    )


def _state(state_dir: Path) -> Path:
    state = Path(state_dir).absolute()
    if any(c.isspace() for c in str(state)):
        raise ProviderError(
            f"state directory {state} contains whitespace",
            hint="use a path without spaces for local host state",
            provider=PROVIDER,
        )
    return rt.make_private_dir(state)


def _to_host(state: Path, record: rt.HostRecord) -> LocalHost:
    directory = rt.host_dir(state, record.network, record.name)
    pub = directory / "ssh_host_ed25519_key.pub"
    return LocalHost(
        name=record.name,
        address=record.address,
        port=record.port,
        host_public_key=pub.read_text().strip() if pub.exists() else "",
        init_pid=record.init_pid,
        netns=record.netns,
        root_dir=directory,
        mode=record.mode,
        alive=record.alive(),
        booting=_booting(record),
    )


def _booting(record: rt.HostRecord) -> bool:
    """The host was started but its PID 1 was never recorded: its creator was killed between
    starting it and seeing it ready. Its launcher still runs (or, killed before even recording
    the launcher, something runs in its network namespace)."""
    if record.alive():
        return False
    if record.launcher_pid:
        return is_alive(record.launcher_pid, record.launcher_start)
    return rt.netns_busy(record.netns)


def _check_authorized_key(key: str) -> str:
    key = key.strip()
    if "PRIVATE KEY" in key:
        raise ProviderError(
            "authorized_key looks like a private key",
            hint="pass the operator's *public* key (the .pub file's contents)",
            provider=PROVIDER,
        )
    if len(key.splitlines()) != 1 or not key.startswith(("ssh-", "ecdsa-", "sk-")):
        raise ProviderError(
            "authorized_key is not one OpenSSH public key line",
            hint="pass e.g. the contents of ~/.ssh/id_ed25519.pub",
            provider=PROVIDER,
        )
    return key


def _record_network(state: Path, network: LocalNetwork) -> None:
    path = rt.network_dir(state, network.name) / "network.json"
    if path.exists():
        recorded = json.loads(path.read_text())
        if recorded.get("cidr") != network.cidr:
            raise ProviderError(
                f"local network {network.name} already exists with CIDR {recorded.get('cidr')}",
                hint=f"use CIDR {recorded.get('cidr')}, or destroy its hosts first",
                provider=PROVIDER,
            )
        return
    rt.write_json(path, {"name": network.name, "cidr": network.cidr})


def _allocate(network: LocalNetwork, taken: set[str]) -> str:
    for address in network.host_addresses():
        if address not in taken:
            taken.add(address)
            return address
    raise ProviderError(
        f"local network {network.name} ({network.cidr}) has no free address left",
        hint="use a larger CIDR for the local network",
        provider=PROVIDER,
    )


def create_hosts(
    network: LocalNetwork,
    names: Sequence[str],
    *,
    authorized_key: str,
    state_dir: Path,
    mode: str = "fast",
    parallel: int = 16,
    image: str | None = None,
    packages: Sequence[str] = (),
) -> list[LocalHost]:
    """Create (or repair) the hosts ``names`` on ``network`` and wait until their sshd answers.

    Idempotent: a recorded host that is alive is returned as is; a recorded host that died is
    started again with the same address, disk and host key. Returns hosts in ``names`` order.

    Systemd mode only: ``image`` is the root filesystem (``rootfs.IMAGES``, default the stock
    ``debian-12-genericcloud``); stock-image hosts install with their own apt from a repository
    this machine serves them, holding ``packages`` and what they need (:mod:`.mirror`).
    """
    require_linux_root()
    module = _mode_module(mode)
    module.check_tools()
    if mode == "systemd":
        from .rootfs import IMAGES, STOCK

        image = image or STOCK
        if image not in IMAGES:
            raise ProviderError(
                f"unknown local host image {image!r}",
                hint="use one of: " + ", ".join(IMAGES),
                provider=PROVIDER,
            )
    elif image is not None:
        raise ProviderError(
            f"image {image!r} needs systemd mode",
            hint="fast-mode hosts run the machine's own system; use mode systemd for an image",
            provider=PROVIDER,
        )
    authorized_key = _check_authorized_key(authorized_key)
    if len(set(names)) != len(names):
        raise ProviderError("duplicate host names", hint="name each host once", provider=PROVIDER)
    for name in names:
        net.check_host_name(name)
    state = _state(state_dir)

    with rt.network_lock(state, network.name):
        _record_network(state, network)
        records = rt.load_records(state, network.name)
        # recorded hosts hold addresses of the bridge's range: never re-range under them
        net.ensure_bridge(network, attached=bool(records))
        if image is not None:
            module.ensure_packages(state, network.name, image, list(packages))
        taken = {r.address for r in records.values()}
        to_start: list[rt.HostRecord] = []
        to_adopt: list[rt.HostRecord] = []
        for name in names:
            record = records.get(name)
            if record is not None and record.mode != mode:
                raise ProviderError(
                    f"local host {name} exists in {record.mode} mode, not {mode}",
                    hint="destroy it first to change its mode",
                    provider=PROVIDER,
                )
            if record is not None and image is not None and (record.image or image) != image:
                raise ProviderError(
                    f"local host {name} runs image {record.image}, not {image}",
                    hint="destroy it first to change its image",
                    provider=PROVIDER,
                )
            if record is not None and record.alive():
                continue
            if record is not None and _booting(record):
                to_adopt.append(record)
                continue
            if record is None:
                record = rt.HostRecord(
                    name=name,
                    network=network.name,
                    address=_allocate(network, taken),
                    mode=mode,
                    netns=network.netns(name),
                    veth=network.veth(name),
                    image=image or "",
                )
                records[name] = record
            directory = rt.make_private_dir(rt.host_dir(state, network.name, name))
            rt.save_record(directory, record)  # recorded before anything exists: sweepable
            to_start.append(record)
        # Hosts a killed creator started are adopted once ready; one that never gets there is
        # started again (same address, disk and host key).
        to_start += _adopt_booting(state, network.name, to_adopt, module, parallel)
        if to_start:
            _make_neighbour_room(state, network.name, len(records))
        _start_all(
            network,
            records=to_start,
            state=state,
            authorized_key=authorized_key,
            module=module,
            parallel=parallel,
        )
        return [_to_host(state, records[name]) for name in names]


def _adopt_booting(
    state: Path, network_name: str, records: list[rt.HostRecord], module: Any, parallel: int
) -> list[rt.HostRecord]:
    """Wait for hosts a killed creator started and record their PID 1; return those that do
    not become ready (to be started again)."""

    def ready(record: rt.HostRecord) -> None:
        directory = rt.host_dir(state, network_name, record.name)
        module.wait_ready(directory, record, time.monotonic() + BOOT_TIMEOUT)
        module.read_init_pid(directory, record)
        rt.save_record(directory, record)

    if not records:
        return []
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        errors = list(pool.map(_catching(ready), records))
    return [record for record, error in zip(records, errors, strict=True) if error is not None]


def _neighbour_limits_saved() -> Path:
    from .rootfs import cache_dir

    return cache_dir().parent / "neigh-gc-thresh.orig.json"


def _make_neighbour_room(state: Path, network_name: str, hosts: int) -> None:
    """Fit the neighbour entries of this network's ``hosts`` and of the other recorded
    networks in the kernel's shared table (:mod:`.neighbours`)."""
    sizes = [hosts]
    for directory in state.iterdir():
        if directory.name != network_name and (directory / "network.json").is_file():
            sizes.append(len(rt.load_records(state, directory.name)))
    neighbours.ensure_room(sizes, saved=_neighbour_limits_saved())


def _restore_neighbour_limits() -> None:
    neighbours.restore_if_idle(
        saved=_neighbour_limits_saved(),
        busy=lambda: neighbours.any_local_host_netns(net.NETNS_PREFIX),
    )


def _start_all(
    network: LocalNetwork,
    *,
    records: list[rt.HostRecord],
    state: Path,
    authorized_key: str,
    module: Any,
    parallel: int,
) -> None:
    if not records:
        return
    # Leftovers of a previous life (dead init, netns, veth) go first.
    rt.stop(records)
    rt.unplumb(records)
    if hasattr(module, "before_start"):
        module.before_start(state, records)

    def launch(record: rt.HostRecord) -> None:
        directory = rt.host_dir(state, network.name, record.name)
        public = ensure_host_key(directory / "ssh_host_ed25519_key")
        module.prepare_files(directory, record, public, authorized_key)
        rt.plumb(network, record)
        module.spawn(directory, record, state)
        rt.save_record(directory, record)  # the launcher pid, in case we die before it is ready

    def ready(record: rt.HostRecord) -> None:
        directory = rt.host_dir(state, network.name, record.name)
        module.wait_ready(directory, record, time.monotonic() + BOOT_TIMEOUT)
        module.read_init_pid(directory, record)
        rt.save_record(directory, record)

    failures: dict[str, ProviderError] = {}
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        for record, error in zip(records, pool.map(_catching(launch), records), strict=True):
            if error is not None:
                failures[record.name] = error
        started = [r for r in records if r.name not in failures]
        for record, error in zip(started, pool.map(_catching(ready), started), strict=True):
            if error is not None:
                failures[record.name] = error
    if failures:
        failed = [r for r in records if r.name in failures]
        rt.stop(failed)
        rt.unplumb(failed)
        for record in failed:  # the record stays: a retry reuses its address and host key
            rt.save_record(rt.host_dir(state, network.name, record.name), record)
        first_name, first = next(iter(failures.items()))
        raise ProviderError(
            f"{len(failures)} of {len(records)} local hosts failed to start "
            f"({', '.join(sorted(failures))}); {first_name}: {first.message}",
            hint=first.hint,
            provider=PROVIDER,
        )


def _catching(func: Any) -> Any:
    def wrapper(record: rt.HostRecord) -> ProviderError | None:
        try:
            func(record)
        except ProviderError as error:
            return error
        except OSError as error:
            return ProviderError(f"{error}", hint="see the host's console.log", provider=PROVIDER)
        return None

    return wrapper


def _names(hosts_or_names: Sequence[LocalHost | str]) -> list[str]:
    return [h.name if isinstance(h, LocalHost) else h for h in hosts_or_names]


def destroy_hosts(
    network: LocalNetwork, hosts_or_names: Sequence[LocalHost | str], *, state_dir: Path
) -> None:
    """Remove hosts and every trace of them (processes, netns, veth, disk, key).

    Idempotent: unknown names are ignored. The bridge and the network's directory go with the
    last host.
    """
    require_linux_root()
    state = _state(state_dir)
    with rt.network_lock(state, network.name):
        records = rt.load_records(state, network.name)
        doomed = [records[n] for n in _names(hosts_or_names) if n in records]
        _teardown(state, network.name, doomed)
        if not (set(records) - {r.name for r in doomed}):
            net.remove_bridge(network)
            rt.remove_tree(rt.network_dir(state, network.name))
    _restore_neighbour_limits()


def _teardown(state: Path, network_name: str, records: list[rt.HostRecord]) -> None:
    rt.stop(records)
    rt.unplumb(records)
    for mode in {r.mode for r in records}:
        module = _mode_module(mode)
        if hasattr(module, "after_stop"):
            module.after_stop(state, [r for r in records if r.mode == mode])
    for record in records:
        rt.remove_tree(rt.host_dir(state, network_name, record.name))


def list_hosts(network: LocalNetwork, *, state_dir: Path) -> list[LocalHost]:
    """Recorded hosts of ``network`` with their liveness (``alive``), sorted by name."""
    state = Path(state_dir).absolute()
    return [_to_host(state, r) for r in rt.load_records(state, network.name).values()]


def sweep(prefix: str, *, state_dir: Path) -> list[str]:
    """Remove everything left by networks whose name starts with ``prefix``: recorded hosts
    (processes, netns, veths, disks), then anything the machine still shows under our names
    even without a record (netns ``sloth-<prefix>…``, interfaces aliased ``sloth-local:<prefix>…``).

    Returns what was removed. Do not sweep a prefix a live run is using.
    """
    require_linux_root()
    if not prefix:
        raise ProviderError("sweep needs a non-empty prefix", hint="e.g. 'slt-'", provider=PROVIDER)
    state = Path(state_dir).absolute()
    removed: list[str] = []
    if state.is_dir():
        for directory in sorted(state.iterdir()):
            if not (directory.is_dir() and directory.name.startswith(prefix)):
                continue
            with rt.network_lock(state, directory.name):
                records = list(rt.load_records(state, directory.name).values())
                _teardown(state, directory.name, records)
                removed += [f"host {directory.name}/{r.name}" for r in records]
                with contextlib.suppress(ProviderError, OSError, ValueError, KeyError):
                    recorded = json.loads((directory / "network.json").read_text())
                    net.remove_bridge(LocalNetwork(recorded["name"], recorded["cidr"]))
                rt.remove_tree(directory)
            removed.append(f"network {directory.name}")
    removed += _sweep_machine(prefix)
    _restore_neighbour_limits()
    return removed


def _sweep_machine(prefix: str) -> list[str]:
    """Find and remove our netns and interfaces by name alone (state may be lost)."""
    removed: list[str] = []
    namespaces = [
        n
        for n in run(["ip", "netns", "list"], what="listing netns").split()
        if n.startswith(net.NETNS_PREFIX + prefix)
    ]
    for namespace in namespaces:
        rt.kill_netns_processes(namespace)
        removed.append(f"netns {namespace}")
    links = net.links_with_alias_prefix(net.ALIAS_PREFIX + prefix)
    lines = [f"link del {link}" for link in links] + [f"netns del {n}" for n in namespaces]
    if lines:
        run(
            ["ip", "-force", "-batch", "-"],
            what="removing leftover interfaces",
            input_text="\n".join(lines) + "\n",
            ok_errors=("Cannot find device", "No such file or directory"),
        )
    removed += [f"link {link}" for link in links]
    from . import systemd_mode

    removed += systemd_mode.sweep_machine(prefix)
    return removed


def known_hosts_lines(hosts: Sequence[LocalHost]) -> str:
    """known_hosts lines pinning each host's key to its address (``[addr]:port`` off port 22)."""
    lines = []
    for host in hosts:
        where = host.address if host.port == 22 else f"[{host.address}]:{host.port}"
        lines.append(f"{where} {host.host_public_key}\n")
    return "".join(lines)
