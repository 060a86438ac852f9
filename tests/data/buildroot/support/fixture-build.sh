#!/bin/sh
# Fixture (our own text, no upstream file): stands in for buildroot's package builds by making
# output/target/ with the binaries and links k3s-root v0.14.1's scripts/package copies
# (k3s-io/k3s-root commit 1f35cfd3a0b62742b097040a35edf30653900410): busybox and coreutils with
# their applet links, the iptables multi-binaries and links, and the other tools it names.
set -e
T=$1
mkdir -p "$T"/bin "$T"/sbin "$T"/usr/bin "$T"/usr/sbin
mk() { printf '#!/bin/sh\necho %s\n' "$2" > "$1"; chmod 0755 "$1"; }
mk "$T"/bin/busybox busybox
for a in sh ls mount; do ln -sf busybox "$T"/bin/$a; done
ln -sf ../bin/busybox "$T"/sbin/modprobe
mk "$T"/usr/bin/coreutils coreutils
for a in cat cp; do ln -sf coreutils "$T"/usr/bin/$a; done
for b in find fuse-overlayfs nsenter pigz slirp4netns xargs; do mk "$T"/usr/bin/$b $b; done
for b in conntrack ethtool ipset nft xtables-legacy-multi xtables-nft-multi ebtables-legacy; do mk "$T"/usr/sbin/$b $b; done
ln -sf xtables-legacy-multi "$T"/usr/sbin/iptables-legacy
ln -sf xtables-nft-multi "$T"/usr/sbin/iptables-nft
for b in blkid ip losetup; do mk "$T"/sbin/$b $b; done
