#!/bin/sh
# Stand-in (our own text) for k3s-io/k3s-root v0.14.1's iptables-detect/xtables-set-mode.sh
# (commit 1f35cfd3a0b62742b097040a35edf30653900410). Same contract: -m|--mode nft|legacy points the six iptables links in the
# directory where `which` finds this script to xtables-nft-multi or xtables-legacy-multi; not
# found on PATH: an error on stderr, exit 1 (upstream skips that check with -f|--force, then
# links in the directory `dirname` makes of nothing; here the check stays); no argument, an
# unknown argument or mode: usage and exit 1; -h|--help: usage and exit 0.
usage() { echo "usage: xtables-set-mode.sh [[--mode nft|legacy] [--force] | [--help]]"; }
[ $# -gt 0 ] || { usage; exit 1; }
mode=""
while [ $# -gt 0 ]; do
  case "$1" in
    -m|--mode) shift; mode="$1" ;;
    -f|--force) ;;
    -h|--help) usage; exit 0 ;;
    *) usage; exit 1 ;;
  esac
  shift
done
self=$(which xtables-set-mode.sh) || { echo "[ERROR]  xtables-set-mode.sh was not found in PATH" >&2; exit 1; }
dir=$(dirname "$self")
case "$mode" in
  nft) target=xtables-nft-multi ;;
  legacy) target=xtables-legacy-multi ;;
  *) usage; exit 1 ;;
esac
for i in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -sf "$target" "$dir/$i"
done
