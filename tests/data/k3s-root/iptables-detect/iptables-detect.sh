#!/bin/sh
# Stand-in (our own text) for k3s-io/k3s-root v0.14.1's iptables-detect/iptables-detect.sh
# (commit 1f35cfd3a0b62742b097040a35edf30653900410). Same contract: the mode is $IPTABLES_MODE when set, else from the rules the
# two back ends hold (10 or more legacy rules, or more legacy than nft rules: legacy; some nft
# rules: nft); with no rules at all upstream goes on to guess from cgroups, /etc/alternatives
# and the OS, and the stand-in answers nft (upstream's answer on an OS it does not know, EMT's
# case). Run as iptables-detect.sh it prints the mode and exits 0; run through an iptables link
# it calls xtables-set-mode.sh -m <mode> and re-executes itself through the switched link.
legacy=$( (iptables-legacy-save || true; ip6tables-legacy-save || true) 2>/dev/null | grep -c '^-')
nft=$( (iptables-nft-save || true; ip6tables-nft-save || true) 2>/dev/null | grep -c '^-')
if [ -n "$IPTABLES_MODE" ]; then
  mode="$IPTABLES_MODE"
elif [ "$legacy" -ge 10 ] || [ "$legacy" -gt "$nft" ]; then
  mode=legacy
else
  mode=nft
fi
if [ "$(basename "$0")" = iptables-detect.sh ]; then
  echo "mode is $mode"
  exit 0
fi
xtables-set-mode.sh -m "$mode" >/dev/null && exec "$0" "$@"
exit 1
