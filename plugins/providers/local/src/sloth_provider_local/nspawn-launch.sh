#!/bin/sh
# Launcher of a systemd-mode local host, run (detached) as:
#   unshare --mount --propagation private /bin/sh nspawn-launch.sh NAME HOST_DIR ROOTFS NETNS CGROUP \
#       [PACKAGE_REPOSITORY MOUNT_POINT]
# The machine runs no systemd, so nothing gives the container a cgroup: take our own directory
# in each hierarchy first (nspawn --keep-unit then uses it), mount the host's root overlay in this
# private mount namespace (it disappears with the host), and become systemd-nspawn.
set -eu
name=$1 host_dir=$2 rootfs=$3 netns=$4 cgroup=$5
# Stock-image hosts: the package repository the provider serves them (mirror.py), read-only.
if [ $# -ge 7 ]; then set -- "--bind-ro=$6:$7"; else set --; fi

if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
    hierarchies=/sys/fs/cgroup                              # pure cgroup v2
else
    hierarchies="/sys/fs/cgroup/systemd /sys/fs/cgroup/unified"
fi
for hierarchy in $hierarchies; do
    [ -d "$hierarchy" ] || continue
    mkdir -p "$hierarchy/$cgroup"
    echo $$ >"$hierarchy/$cgroup/cgroup.procs"
done

mount -t overlay sloth-root \
    -o "lowerdir=$rootfs,upperdir=$host_dir/ovl/root/upper,workdir=$host_dir/ovl/root/work" \
    "$host_dir/merged"

# nspawn drops CAP_NET_ADMIN and makes /proc/sys read-only when it does not own the netns;
# hosts configure their own network (WireGuard, nftables), so give both back for the network.
export SYSTEMD_NSPAWN_API_VFS_WRITABLE=network
exec systemd-nspawn --quiet --boot --register=no --keep-unit \
    --directory="$host_dir/merged" --machine="$name" --hostname="$name" \
    --network-namespace-path="/run/netns/$netns" \
    --capability=CAP_NET_ADMIN --bind=/dev/net/tun \
    --console=passive --link-journal=no --resolv-conf=off --timezone=off "$@"
