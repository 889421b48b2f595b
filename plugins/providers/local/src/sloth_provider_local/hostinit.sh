#!/bin/sh
# PID 1 of a fast-mode local host, run as:
#   ip netns exec NETNS unshare --mount --uts --pid --fork --propagation private \
#       /bin/sh hostinit.sh HOSTNAME HOST_DIR STATE_DIR
# It builds the host's view of the filesystem in its private mount namespace, then becomes tini
# supervising sshd. Nothing here touches the machine's own mounts (propagation is private).
set -eu
name=$1 host_dir=$2 state_dir=$3

# /proc is still the machine's here, so /proc/self/stat gives our machine-side pid: the handle
# the provider uses to kill this host (killing a pid namespace's init kills the namespace).
read -r machine_pid _ </proc/self/stat
echo "$machine_pid" >"$host_dir/init.pid.tmp"
mv "$host_dir/init.pid.tmp" "$host_dir/init.pid"

# A host's disk: overlays whose lower layer is the machine's directory.
for dir in etc var usr opt home srv; do
    mount -t overlay "sloth-$dir" \
        -o "lowerdir=/$dir,upperdir=$host_dir/ovl/$dir/upper,workdir=$host_dir/ovl/$dir/work" "/$dir"
done
mount --bind "$host_dir/root" /root

# Hide the provider's state (other hosts' keys and disks) from inside the host.
mount -t tmpfs -o size=16k,mode=0700 sloth-hidden "$state_dir"

# Unmount what the machine had at the places that get a fresh filesystem, so the host's mount
# table shows only its own (tools like kubelet and df read it).
drop_mounts() {
    awk -v p="$1" '$5 == p || index($5, p "/") == 1 {print $5}' /proc/self/mountinfo \
        | sort -r | while read -r point; do umount -l "$point" 2>/dev/null || true; done
}
drop_mounts /run
drop_mounts /tmp
drop_mounts /dev
mount -t tmpfs -o mode=0755,nosuid,nodev,size=64m tmpfs /run
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp

# A private /dev: the usual character devices, a tun device for wireguard-go, and its own devpts
# instance so SSH sessions get ptys without seeing the machine's terminals.
mount -t tmpfs -o mode=0755,nosuid,size=1m tmpfs /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/zero c 1 5
mknod -m 666 /dev/full c 1 7
mknod -m 666 /dev/random c 1 8
mknod -m 666 /dev/urandom c 1 9
mknod -m 666 /dev/tty c 5 0
mkdir -m 755 /dev/net /dev/pts
mknod -m 666 /dev/net/tun c 10 200
mkdir -m 1777 /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
ln -s pts/ptmx /dev/ptmx
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr

echo "$name" >/proc/sys/kernel/hostname

# The pid namespace's own /proc (replacing the machine's, which would show its processes).
umount -l /proc
mount -t proc -o nosuid,nodev,noexec proc /proc

# Kernel-global settings stay the machine's: /proc/sys is read-only except the per-namespace net.
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
mount --bind /proc/sys/net /proc/sys/net
mount -o remount,bind,rw /proc/sys/net
if [ -e /proc/sysrq-trigger ]; then
    mount --bind /proc/sysrq-trigger /proc/sysrq-trigger
    mount -o remount,bind,ro /proc/sysrq-trigger
fi

# Everything else inherited from the machine (/, /sys, ...) becomes read-only. remount,bind
# changes only this namespace's mount flags, never the machine's filesystems.
keep=" /etc /var /usr /opt /home /srv /root $state_dir /proc /proc/sys /proc/sys/net /run /tmp /dev /dev/pts /dev/shm /proc/sysrq-trigger "
awk '{print $5}' /proc/self/mountinfo | sort -u | while read -r point; do
    case "$keep" in *" $point "*) continue ;; esac
    mount -o remount,bind,ro "$point" 2>/dev/null || true
done

mkdir -m 0755 /run/sshd
cd /root
# tini reaps orphans; sshd is restarted if it exits (e.g. a configuration reload gone wrong).
# Without CAP_SYS_MODULE/CAP_SYS_TIME/CAP_SYS_RAWIO a host cannot change the machine's kernel
# modules or clock.
exec setpriv --bounding-set -sys_module,-sys_time,-sys_rawio -- \
    tini -- /bin/sh -c 'while :; do /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config; sleep 1; done'
