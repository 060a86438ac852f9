#!/usr/bin/env bash
# One-line setup on a fresh Debian/Ubuntu machine (as root or with sudo):
#   system tools (rpm, rpmbuild, python3-rpm, git, createrepo-c, rpmlint, build tools, shellcheck,
#   containerd, a static busybox and jq for the addon image tests) via apt-get where missing, the
#   Python package in .venv, then the main job on the embedded default release
#   as far as this machine goes without upstream network.
# On an RPM-based host (Fedora, Azure Linux, EMT) install the same tools with dnf/tdnf instead:
#   rpm-build python3-rpm git createrepo_c rpmlint gcc make autoconf automake libtool pkgconf
set -euo pipefail
cd "$(dirname "$0")"

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

need=()
for pair in rpmbuild:rpm rpmspec:rpm rpm2cpio:rpm2cpio cpio:cpio git:git createrepo_c:createrepo-c \
            rpmlint:rpmlint gcc:gcc make:make autoreconf:autoconf automake:automake \
            libtoolize:libtool pkg-config:pkg-config go:golang-go zstd:zstd bwrap:bubblewrap \
            debootstrap:debootstrap unshare:util-linux prlimit:util-linux setpriv:util-linux \
            patch:patch openssl:openssl licensecheck:licensecheck rsync:rsync \
            shellcheck:shellcheck containerd:containerd busybox:busybox-static jq:jq; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
[ -e /usr/lib/python3/dist-packages/rpm/__init__.py ] || need+=(python3-rpm)
PY=${PYTHON:-python3}
"$PY" -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if [ "${#need[@]}" -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "install.sh: installing system packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
elif [ "${#need[@]}" -gt 0 ]; then
  echo "install.sh: missing system tools (install them with your package manager): ${need[*]}" >&2
  exit 6
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
if [ "${#need[@]}" -gt 0 ]; then
  echo "install.sh: system packages installed: ${need[*]}"
else
  echo "install.sh: system packages: all present"
fi
echo "install.sh: emtk3s $(.venv/bin/emtk3s --version | awk '{print $NF}') installed in .venv (the command is .venv/bin/emtk3s)"

if [ "${1:-}" != "--deps-only" ]; then
  # The main job on the embedded default release, as far as this machine goes. Exit 11 =
  # "stopped: needs network" (docs/cli.md): expected on a machine without upstream access.
  echo "install.sh: running .venv/bin/emtk3s all --offline on the default release ($(sed -n 's/^k3s = "\(.*\)".*/\1/p' release.toml))"
  rc=0; .venv/bin/emtk3s all --offline || rc=$?
  [ "$rc" = 0 ] || [ "$rc" = 11 ] || exit "$rc"
  echo "install.sh: SPECS/ rendered and validated (rpmspec -P for x86_64 and aarch64, rpmlint):"
  for d in SPECS/*/; do
    [ -d "$d" ] && echo "  ${d}$(basename "$d").spec"
  done
  if [ "$rc" = 11 ]; then
    echo "install.sh: building needs the sources: with network access or a mirror, run"
    nodeps=""; command -v dpkg >/dev/null 2>&1 && nodeps=" --nodeps"  # rpm has no package database here
    echo "  .venv/bin/emtk3s all$nodeps"
    echo "  (a mirror: EMTK3S_MIRROR_GITHUB=URL and the others in docs/cli.md; --nodeps on Debian/Ubuntu, where rpm cannot check BuildRequires)"
  else
    echo "install.sh: SRPMS/ and RPMS/ are built; next: .venv/bin/emtk3s emt integrate --emt-repo PATH --dry-run"
  fi
fi
