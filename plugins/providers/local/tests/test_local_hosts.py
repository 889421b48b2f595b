"""Real local hosts: separate machines as far as an operator can tell, reached only over pinned SSH,
and gone without a trace when destroyed or swept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sloth_kubernetes.errors import ProviderError
from sloth_provider_local import (
    LocalNetwork,
    create_hosts,
    destroy_hosts,
    known_hosts_lines,
    list_hosts,
    sweep,
)
from sloth_provider_local._system import process_start_time

pytestmark = pytest.mark.hosts


def _machine_traces(network: LocalNetwork, state_dir: Path) -> list[str]:
    """Everything of ``network`` the machine still shows: links, netns, mounts, processes, dirs."""
    traces: list[str] = []
    links = json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True, text=True,
                                      check=True).stdout)  # fmt: skip
    for link in links:
        if link["ifname"] == network.bridge or str(link.get("ifalias", "")).startswith(
            network.alias
        ):
            traces.append(f"link {link['ifname']}")
    namespaces = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, check=True
    ).stdout
    traces += [f"netns {n}" for n in namespaces.split() if n.startswith(f"sloth-{network.name}-")]
    network_dir = str(state_dir / network.name)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            mountinfo = Path(f"/proc/{pid}/mountinfo").read_text()
            live = process_start_time(int(pid)) is not None
        except OSError:  # exited meanwhile (zombies answer EINVAL)
            continue
        if live and network_dir in mountinfo:
            traces.append(f"process {pid} with mounts of {network_dir}")
    if Path(network_dir).exists():
        traces.append(f"directory {network_dir}")
    return traces


def test_hosts_are_separate_machines(local_hosts):
    a, b, c = local_hosts(3)

    names = [h.run("hostname").stdout.strip() for h in (a, b, c)]
    assert names == [a.name, b.name, c.name]
    assert len(set(names)) == 3

    marker = f"sloth-marker-{os.getpid()}"
    a.run(f"echo from-a > /etc/{marker}")
    assert a.run(f"cat /etc/{marker}").stdout.strip() == "from-a"
    assert b.run(f"test -e /etc/{marker}", check=False).returncode == 1
    assert not Path("/etc", marker).exists(), "a host's /etc write reached the machine"

    a.run(f"touch /run/{marker}")
    assert b.run(f"test -e /run/{marker}", check=False).returncode == 1
    assert not Path("/run", marker).exists()

    # the machine's filesystem outside the overlays is read-only inside a host
    assert a.run("touch /sloth-should-fail", check=False).returncode != 0
    # its own pid namespace: PID 1 is the host's init, not the machine's
    assert "tini" in a.run("cat /proc/1/cmdline").stdout
    # a pty session works (private devpts)
    assert b.run("script -qc 'tty' /dev/null").stdout.strip().startswith("/dev/pts/")

    for source in (a, b, c):
        for target in (a, b, c):
            if source is not target:
                source.run(f"ping -c1 -W2 {target.address}")


def test_pyinfra_connects_with_pinned_host_keys(local_hosts, tmp_path):
    from pyinfra.api import Config, Inventory, State
    from pyinfra.api.connect import connect_all
    from pyinfra.api.operation import add_op
    from pyinfra.api.operations import run_ops
    from pyinfra.operations import files, server

    hosts = local_hosts(2)
    payload = tmp_path / "payload.txt"
    payload.write_text("delivered by pyinfra\n")
    inventory = Inventory(
        (
            [
                (
                    h.address,
                    {
                        "ssh_user": "root",
                        "ssh_key": str(h.private_key),
                        "ssh_known_hosts_file": str(h.known_hosts),
                        "ssh_strict_host_key_checking": "yes",
                    },
                )
                for h in hosts
            ],
            {},
        )
    )
    state = State(inventory, Config(PARALLEL=2))
    connect_all(state)
    assert not state.failed_hosts
    add_op(state, files.put, src=str(payload), dest="/srv/payload.txt", mode="600")
    add_op(state, server.shell, commands=["hostname > /srv/seen-by-pyinfra"])
    run_ops(state)
    assert not state.failed_hosts

    for h in hosts:
        assert h.run("cat /srv/payload.txt").stdout == "delivered by pyinfra\n"
        assert h.run("cat /srv/seen-by-pyinfra").stdout.strip() == h.name


def test_changed_host_key_is_refused(local_hosts):
    a, b = local_hosts(2)
    old_known_hosts = b.known_hosts.read_text()

    # b is destroyed and a new machine comes up at the same address with a new identity
    destroy_hosts(local_hosts.network, [b.name], state_dir=local_hosts.state_dir)
    (new_b,) = create_hosts(
        local_hosts.network,
        [b.name],
        authorized_key=local_hosts.public_key,
        state_dir=local_hosts.state_dir,
    )
    assert new_b.address == b.address
    assert new_b.host_public_key != b.host.host_public_key

    b.known_hosts.write_text(old_known_hosts)  # what the operator pinned before
    refused = b.run("true", check=False)
    assert refused.returncode == 255
    assert "Host key verification failed" in refused.stderr
    assert a.run("true").returncode == 0  # the untouched host still verifies

    local_hosts.refresh_known_hosts()
    assert b.run("hostname").stdout.strip() == b.name


def test_recreate_after_kill_keeps_host_key_and_disk(local_hosts):
    (a,) = local_hosts(1)
    a.run("echo survives > /var/sloth-disk")

    os.kill(a.host.init_pid, signal.SIGKILL)  # the host crashes
    deadline = time.monotonic() + 5
    while process_start_time(a.host.init_pid) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    (listed,) = list_hosts(local_hosts.network, state_dir=local_hosts.state_dir)
    assert not listed.alive
    assert a.run("true", check=False).returncode == 255  # nothing answers

    (again,) = create_hosts(
        local_hosts.network,
        [a.name],
        authorized_key=local_hosts.public_key,
        state_dir=local_hosts.state_dir,
    )
    assert again.alive
    assert again.init_pid != a.host.init_pid
    assert again.host_public_key == a.host.host_public_key
    assert again.address == a.address
    # the known_hosts written before the crash still verifies it
    assert a.run("cat /var/sloth-disk").stdout.strip() == "survives"


def test_create_is_idempotent_for_live_hosts(local_hosts):
    (a,) = local_hosts(1)
    (same,) = create_hosts(
        local_hosts.network,
        [a.name],
        authorized_key=local_hosts.public_key,
        state_dir=local_hosts.state_dir,
    )
    assert same.init_pid == a.host.init_pid
    assert same.host_public_key == a.host.host_public_key


def test_destroy_leaves_no_trace(local_hosts):
    hosts = local_hosts(3)
    network, state_dir = local_hosts.network, local_hosts.state_dir
    pids = [h.host.init_pid for h in hosts]
    assert _machine_traces(network, state_dir)  # the check does see live hosts

    destroy_hosts(network, [h.host for h in hosts], state_dir=state_dir)

    assert _machine_traces(network, state_dir) == []
    assert all(process_start_time(pid) is None for pid in pids)
    mounts = Path("/proc/self/mountinfo").read_text()
    assert f"sloth-{network.name}-" not in mounts
    destroy_hosts(network, [h.host for h in hosts], state_dir=state_dir)  # idempotent


CRASHING_CREATOR = textwrap.dedent(
    """
    import os, sys, threading
    from pathlib import Path
    from sloth_provider_local import LocalNetwork, create_hosts
    network = LocalNetwork(sys.argv[1], sys.argv[2])
    key = Path(sys.argv[3]).read_text()
    if sys.argv[4] == "forget":
        create_hosts(network, ["c1", "c2"], authorized_key=key, state_dir=Path(sys.argv[5]))
        os._exit(0)                               # created, then the run "forgets" them
    print("starting", flush=True)
    create_hosts(network, [f"k{i}" for i in range(12)], authorized_key=key,
                 state_dir=Path(sys.argv[5]), parallel=2)
    """
)


@pytest.mark.parametrize("crash", ["forget", "killed-midway"])
def test_sweep_removes_leftovers_of_a_crashed_run(local_hosts, tmp_path, crash):
    crashed = local_hosts.extra_network()  # a free /24, swept by the fixture whatever happens
    state_dir = tmp_path / "crashed-state"
    argv = [sys.executable, "-c", CRASHING_CREATOR, crashed.name, crashed.cidr,
            str(local_hosts.private_key) + ".pub", crash, str(state_dir)]  # fmt: skip
    if crash == "forget":
        subprocess.run(argv, check=True, timeout=60)
        assert len(list_hosts(crashed, state_dir=state_dir)) == 2
    else:
        creator = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        assert creator.stdout is not None
        creator.stdout.readline()
        deadline = time.monotonic() + 20  # kill it once some hosts exist on the machine
        while time.monotonic() < deadline and not any(
            t.startswith("netns") for t in _machine_traces(crashed, state_dir)
        ):
            time.sleep(0.01)
        time.sleep(0.05)
        creator.kill()
        creator.wait()
        creator.stdout.close()
    assert _machine_traces(crashed, state_dir)

    removed = sweep(crashed.name, state_dir=state_dir)

    assert removed
    assert _machine_traces(crashed, state_dir) == []
    assert sweep(crashed.name, state_dir=state_dir) == []  # nothing left the second time


def test_sweep_finds_leftovers_without_any_state(local_hosts, tmp_path):
    (a,) = local_hosts(1)
    network, state_dir = local_hosts.network, local_hosts.state_dir
    lost_state = tmp_path / "elsewhere"  # the records are gone; only the machine remembers
    removed = sweep(network.name, state_dir=lost_state)
    assert f"netns {a.host.netns}" in removed
    assert f"link {network.bridge}" in removed
    assert process_start_time(a.host.init_pid) is None
    sweep(network.name, state_dir=state_dir)  # drop the orphaned records too
    assert _machine_traces(network, state_dir) == []


def test_overlapping_cidr_is_refused(local_hosts):
    local_hosts(1)
    other = LocalNetwork(local_hosts.network.name + "-other", local_hosts.network.cidr)
    with pytest.raises(ProviderError, match="overlaps") as caught:
        create_hosts(other, ["x1"], authorized_key=local_hosts.public_key,
                     state_dir=local_hosts.state_dir)  # fmt: skip
    assert f"the local network {local_hosts.network.name!r}" in caught.value.message
    assert "choose another cidr" in (caught.value.hint or "")
    sweep(other.name, state_dir=local_hosts.state_dir)


def test_test_hosts_leave_the_default_network_to_a_demo(local_hosts):
    """`make demo` (and any cluster without a cidr) uses the default 10.251.0.0/24: tests running
    at the same time must not take it, or the demo's plan refuses the overlap."""
    import ipaddress

    from sloth_provider_local.plugin import DEFAULT_CIDR, LocalSettings

    (host,) = local_hosts(1)
    assert LocalSettings().cidr == DEFAULT_CIDR
    assert ipaddress.ip_address(host.address) not in ipaddress.ip_network(DEFAULT_CIDR)
    assert local_hosts.network.cidr != DEFAULT_CIDR


def test_not_root_is_a_clear_error(tmp_path):
    code = (
        "from pathlib import Path\n"
        "from sloth_provider_local import LocalNetwork, create_hosts\n"
        "from sloth_kubernetes.errors import ProviderError\n"
        "try:\n"
        "    create_hosts(LocalNetwork('n', '10.251.255.0/24'), ['a'],\n"
        "                 authorized_key='ssh-ed25519 AAAA x', state_dir=Path('/nonexistent'))\n"
        "except ProviderError as e:\n"
        "    print(e.message, '|', e.hint)\n"
    )
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         sys.executable, "-c", code],
        capture_output=True, text=True, check=True, cwd="/",
    )  # fmt: skip
    assert "need root" in done.stdout
    assert "sudo" in done.stdout


def test_known_hosts_lines_pin_each_address(local_hosts):
    hosts = local_hosts(2)
    lines = known_hosts_lines([h.host for h in hosts]).splitlines()
    assert lines == [f"{h.address} {h.host.host_public_key}" for h in hosts]
    assert all(line.split()[1] == "ssh-ed25519" for line in lines)


@pytest.mark.slow
@pytest.mark.timeout(900)  # the first run builds the Debian rootfs with debootstrap (~1-2 min)
def test_systemd_mode_boots_systemd_hosts(local_hosts):
    a, b = local_hosts(2, mode="systemd")
    network, state_dir = local_hosts.network, local_hosts.state_dir

    assert a.run("cat /proc/1/comm").stdout.strip() == "systemd"
    assert a.run("systemctl is-system-running", check=False).stdout.strip() in (
        "running",
        "degraded",
    )
    assert [h.run("hostname").stdout.strip() for h in (a, b)] == [a.name, b.name]
    a.run("echo only-a > /etc/sloth-systemd-marker")
    assert b.run("test -e /etc/sloth-systemd-marker", check=False).returncode == 1
    assert a.run("test -e /work", check=False).returncode == 1  # its own root filesystem
    # the network stays the host's own to configure: sysctl, tun, wireguard-go, nftables
    a.run("sysctl -w net.ipv4.ip_forward=1 && test -c /dev/net/tun && nft list ruleset")
    a.run("systemctl restart ssh")
    b.run(f"ping -c1 -W2 {a.address}")

    cgroups = [h / "sloth-local" / network.name for h in Path("/sys/fs/cgroup").iterdir()]
    assert any(c.is_dir() for c in cgroups)
    destroy_hosts(network, [a.host, b.host], state_dir=state_dir)
    assert _machine_traces(network, state_dir) == []
    assert not any(c.exists() for c in cgroups)


CREATOR = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from sloth_provider_local import LocalNetwork, create_hosts
    name, cidr, host, key, state = sys.argv[1:]
    create_hosts(LocalNetwork(name, cidr), [host], authorized_key=key, state_dir=Path(state))
    """
)


def _kill_creator_while_booting(local_hosts, host: str) -> dict:
    """Run create_hosts in a process and SIGKILL it once it started the host but before it saw
    the host ready (PID 1 not yet recorded); returns the record it left."""
    network = local_hosts.network
    record_path = local_hosts.state_dir / network.name / "hosts" / host / "record.json"
    for _attempt in range(5):
        creator = subprocess.Popen(
            [sys.executable, "-c", CREATOR, network.name, network.cidr, host,
             local_hosts.public_key, str(local_hosts.state_dir)],
        )  # fmt: skip
        deadline = time.monotonic() + 30
        record: dict = {}
        while creator.poll() is None and time.monotonic() < deadline:
            try:
                record = json.loads(record_path.read_text())
            except (OSError, ValueError):
                record = {}
            if record.get("launcher_pid"):
                break
            time.sleep(0.001)
        creator.kill()
        creator.wait()
        record = json.loads(record_path.read_text())
        if record["launcher_pid"] and not record["init_pid"]:
            return record
        destroy_hosts(network, [host], state_dir=local_hosts.state_dir)  # too late: again
    pytest.fail("could not kill the creator between starting a host and seeing it ready")


def _lineage(pid: int) -> set[tuple[int, int | None]]:
    """``pid`` and its ancestors, as (pid, start time)."""
    found = set()
    while pid > 1:
        found.add((pid, process_start_time(pid)))
        stat = Path(f"/proc/{pid}/stat").read_text()
        pid = int(stat[stat.rindex(")") + 2 :].split()[1])
    return found


def _netns_processes(netns: str) -> set[tuple[int, int | None]]:
    out = subprocess.run(
        ["ip", "netns", "pids", netns], capture_output=True, text=True, check=False
    ).stdout
    return {(int(p), process_start_time(int(p))) for p in out.split()}


@pytest.mark.parametrize("launcher_recorded", [True, False], ids=["launcher", "netns-only"])
def test_host_started_by_a_killed_creator_is_adopted(local_hosts, launcher_recorded):
    """issue #13: hosts a killed `up` started but never recorded as ready were started again
    (new processes); they are adopted: listed as there, then taken over as they are."""
    (first,) = local_hosts(1)  # the network, and a neighbour that must stay untouched
    record = _kill_creator_while_booting(local_hosts, "adoptee")
    record_path = local_hosts.state_dir / local_hosts.network.name / "hosts" / "adoptee"
    if not launcher_recorded:  # killed even earlier: right after starting it, before the save
        record["launcher_pid"] = record["launcher_start"] = 0
        (record_path / "record.json").write_text(json.dumps(record))
    # the host boots on by itself (its launcher may not have entered the netns yet)
    deadline = time.monotonic() + 10
    while not (running := _netns_processes(record["netns"])) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert running, "the killed creator's host should still be running"

    listed = {h.name: h for h in list_hosts(local_hosts.network, state_dir=local_hosts.state_dir)}
    assert listed["adoptee"].booting
    assert not listed["adoptee"].alive
    assert listed[first.name].alive
    assert not listed[first.name].booting

    (adopted,) = create_hosts(
        local_hosts.network,
        ["adoptee"],
        authorized_key=local_hosts.public_key,
        state_dir=local_hosts.state_dir,
    )
    assert adopted.alive
    # the same host, not a new one: its PID 1 is a process the killed creator started (or the
    # child its launcher forked, when the launcher was all there was at the snapshot)
    assert _lineage(adopted.init_pid) & running
    local_hosts.refresh_known_hosts()
    handle = local_hosts.handle(adopted)
    assert handle.run("hostname").stdout.strip() == "adoptee"
    again = {h.name: h for h in list_hosts(local_hosts.network, state_dir=local_hosts.state_dir)}
    assert again["adoptee"].alive
    assert not again["adoptee"].booting
    assert again[first.name].init_pid == first.host.init_pid
