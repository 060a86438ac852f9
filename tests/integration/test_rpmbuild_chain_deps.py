"""rpmbuild backend on a host that cannot install RPMs (Debian): a package whose BuildRequires
the chain built (k3s needs k3s-root-dist) gets it unpacked into a private root, and a good
result from another backend is never replaced."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT_SPEC = """Name:           k3s-root
Version:        0.14.1
Release:        1
Summary:        stand-in for the k3s-root chain package (test fixture)
License:        Apache-2.0
BuildArch:      noarch

%description
Fixture.

%package dist
Summary:        the tarball k3s builds against

%description dist
Fixture.

%install
mkdir -p %{buildroot}%{_datadir}/k3s-root
echo "k3s-root fixture payload" > %{buildroot}%{_datadir}/k3s-root/k3s-root-amd64.tar

%files dist
%{_datadir}/k3s-root/k3s-root-amd64.tar

%changelog
* Fri Nov 08 2024 T <t@example.invalid> - 0.14.1-1
- Fixture.
"""

CONSUMER_SPEC = """%{!?k3s_root_dir:%global k3s_root_dir %{_datadir}/k3s-root}
Name:           consumer
Version:        1.0
Release:        1
Summary:        builds against k3s-root-dist like k3s does (test fixture)
License:        Apache-2.0
BuildArch:      noarch
BuildRequires:  k3s-root-dist = 0.14.1

%description
Fixture.

%prep
cp %{k3s_root_dir}/k3s-root-amd64.tar payload

%install
mkdir -p %{buildroot}%{_datadir}/consumer
cp payload %{buildroot}%{_datadir}/consumer/

%files
%{_datadir}/consumer/payload

%changelog
* Fri Nov 08 2024 T <t@example.invalid> - 1.0-1
- Fixture.
"""


def _emtk3s(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emtk3s", "-C", str(root), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_chain_built_build_requires_and_other_backends_results_kept(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    for name, text in (("k3s-root", ROOT_SPEC), ("consumer", CONSUMER_SPEC)):
        (root / "SPECS" / name).mkdir(parents=True)
        (root / "SPECS" / name / f"{name}.spec").write_text(text)
    (root / "release.toml").write_text('[release]\nk3s = "v1.32.4+k3s1"\n')
    res = _emtk3s(root, "--json", "chain", "--nodeps")
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads(res.stdout)["result"]
    assert [e["package"] for e in doc["packages"]] == ["k3s-root", "consumer"]
    (built,) = (root / "RPMS" / "noarch").glob("consumer-1.0-1.noarch.rpm")
    cpio = subprocess.run(["rpm2cpio", str(built)], capture_output=True, check=True).stdout
    payload = subprocess.run(
        ["cpio", "-i", "--to-stdout", "--quiet", "./usr/share/consumer/payload"],
        input=cpio,
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert payload == "k3s-root fixture payload\n"  # from the chain's RPM, not the host
    # the same SRPM built by another backend earlier: kept only when asked to
    # (--keep-other-backend), and then the table names the backend that made it
    stamp_file = next((root / ".emtk3s" / "state").rglob("*consumer*"))
    stamp = json.loads(stamp_file.read_text())
    stamp["backend"], stamp["key"] = "chroot", "another backend's key"
    stamp_file.write_text(json.dumps(stamp))
    before = built.read_bytes()
    res = _emtk3s(root, "--json", "chain", "--nodeps", "-p", "consumer", "--keep-other-backend")
    assert res.returncode == 0, res.stdout + res.stderr
    (entry,) = json.loads(res.stdout)["result"]["packages"]
    assert entry["status"] == "up to date" and entry["backend"] == "chroot"
    assert built.read_bytes() == before
    # by default a backend change rebuilds: rpmbuild makes the RPM again and says so
    res = _emtk3s(root, "--json", "chain", "--nodeps", "-p", "consumer")
    assert res.returncode == 0, res.stdout + res.stderr
    (entry,) = json.loads(res.stdout)["result"]["packages"]
    assert entry["status"] == "built" and entry["backend"] == "rpmbuild"
    assert json.loads(stamp_file.read_text())["backend"] == "rpmbuild"
