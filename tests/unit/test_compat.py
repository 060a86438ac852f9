"""Compatibility between cluster templates and hosts, case by case."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from emtk3s.infra.errors import ConflictError, InputError
from emtk3s.model import compat

PROFILE = """---
appVersion: apps/v1
metadata:
  release: 0.0.0-dev
  kubernetes-version: {k3s}
spec:
  name: Edge Microvisor Toolkit 3.0.20250708
  type: OS_TYPE_IMMUTABLE
  architecture: x86_64
  profileName: microvisor-nonrt
"""
UBUNTU = """---
appVersion: apps/v1
metadata:
  release: 0.0.0-dev
spec:
  name: Ubuntu 22.04 LTS
  type: OS_TYPE_MUTABLE
  profileName: ubuntu-22.04-lts-generic
"""
TEMPLATE = """apiVersion: controlplane.cluster.x-k8s.io/v1beta2
kind: KThreesControlPlaneTemplate
metadata:
  name: k3s-{name}
spec:
  template:
    spec:
      version: {k3s}
"""


@pytest.mark.parametrize(
    "template, host, compatible, reason",
    [
        ("v1.32.4+k3s1", "emt:v1.32.4+k3s1", True, "exact"),
        ("v1.32.6+k3s1", "emt:v1.32.4+k3s1", False, "other patch"),
        ("v1.32.4+k3s1", "emt:v1.30.4+k3s1", False, "other minor"),
        ("v1.32.4+k3s2", "emt:v1.32.4+k3s1", False, "other k3s build"),
        ("v1.33.0-rc1+k3s1", "emt:v1.33.0+k3s1", False, "release candidate differs"),
        ("v1.33.0-rc1+k3s1", "emt:v1.33.0-rc1+k3s1", True, "exact"),
        ("v1.32.6+k3s1", "ubuntu", True, "ubuntu"),
        ("v1.20.0+k3s1", "ubuntu", True, "ubuntu"),
    ],
)
def test_table(template: str, host: str, compatible: bool, reason: str) -> None:
    v = compat.check(compat.parse_template(template), compat.parse_host(host))
    assert (v.compatible, v.reason) == (compatible, reason)
    assert v.http_status == (200 if compatible else 409)
    if not compatible:
        assert (
            template in v.message and host.removeprefix("emt:") in v.message and "409" in v.message
        )


def test_conflict_raises_with_both_versions() -> None:
    with pytest.raises(ConflictError) as exc:
        compat.require_compatible(
            compat.parse_template("v1.32.6+k3s1"), compat.parse_host("emt:v1.30.4+k3s1")
        )
    assert exc.value.exit_code == 9 and exc.value.result.http_status == 409
    assert "v1.32.6+k3s1" in str(exc.value) and "v1.30.4+k3s1" in str(exc.value)


def test_files(tmp_path: Path) -> None:
    prof = tmp_path / "microvisor-nonrt.yaml"
    prof.write_text(PROFILE.format(k3s="v1.32.4+k3s1"))
    ub = tmp_path / "ubuntu.yaml"
    ub.write_text(UBUNTU)
    tpl = tmp_path / "t.yaml"
    tpl.write_text(TEMPLATE.format(name="a", k3s="v1.32.4+k3s1"))
    host = compat.parse_host(str(prof))
    assert (
        host.os == "emt"
        and host.k3s
        and host.k3s.tag == "v1.32.4+k3s1"
        and host.name == "microvisor-nonrt"
    )
    assert compat.parse_host(str(ub)).os == "ubuntu"
    t = compat.parse_template(str(tpl))
    assert t.name == "k3s-a" and compat.check(t, host).compatible


@pytest.mark.parametrize(
    "bad",
    ["v1.32", "emt:", "emt:1.32.4+k3s1", "emt:v1.32.4+k3s1\n%post", "/nonexistent/profile.yaml"],
)
def test_malformed_input(bad: str) -> None:
    with pytest.raises(InputError):
        compat.check(compat.parse_template("v1.32.4+k3s1"), compat.parse_host(bad))


def test_malformed_files(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(PROFILE.format(k3s="latest"))
    with pytest.raises(InputError, match="metadata.kubernetes-version"):
        compat.parse_host(str(f))
    f.write_text("kind: [unclosed")
    with pytest.raises(InputError, match="not valid YAML"):
        compat.parse_template(str(f))
    f.write_text("kind: Deployment\n")
    with pytest.raises(InputError, match="no KThreesControlPlaneTemplate"):
        compat.parse_template(str(f))


def test_filter_lists_only_compatible_pairs() -> None:
    hosts = [compat.parse_host(h) for h in ("emt:v1.32.4+k3s1", "emt:v1.30.4+k3s1", "ubuntu")]
    tpls = [compat.parse_template(t) for t in ("v1.32.4+k3s1", "v1.30.4+k3s1")]
    pairs = {(v.host.name, v.template.name) for v in compat.filter_pairs(hosts, tpls)}
    assert pairs == {
        ("emt:v1.32.4+k3s1", "v1.32.4+k3s1"),
        ("emt:v1.30.4+k3s1", "v1.30.4+k3s1"),
        ("ubuntu", "v1.32.4+k3s1"),
        ("ubuntu", "v1.30.4+k3s1"),
    }


@pytest.mark.parametrize(
    "old, new, policy, ok",
    [
        ("v1.32.4+k3s1", "v1.32.6+k3s1", "same-minor", True),
        ("v1.32.4+k3s1", "v1.33.1+k3s1", "same-minor", False),
        ("v1.32.4+k3s1", "v1.33.1+k3s1", "any", True),
        ("v1.32.4+k3s1", "v1.32.4+k3s1", "same-minor", True),
    ],
)
def test_upgrade_policies(old: str, new: str, policy: str, ok: bool) -> None:
    v = compat.upgrade(compat.parse_host(f"emt:{old}"), compat.parse_host(f"emt:{new}"), policy)
    assert v.compatible is ok
    if old != new:
        assert any("changes" in w for w in v.warnings)


def test_template_fragment_is_air_gapped_for_emt() -> None:
    from emtk3s.model.versions import K3sTag

    doc = yaml.safe_load(compat.control_plane_template("cp", K3sTag.parse("v1.32.4+k3s1")))
    spec = doc["spec"]["template"]["spec"]
    assert (
        spec["version"] == "v1.32.4+k3s1"
        and spec["kthreesConfigSpec"]["agentConfig"]["airGapped"] is True
    )
    assert (
        "kthreesConfigSpec"
        not in yaml.safe_load(
            compat.control_plane_template("cp", K3sTag.parse("v1.32.4+k3s1"), emt=False)
        )["spec"]["template"]["spec"]
    )
