"""bump's list of what changed names each piece once, whichever fact of the tag names it
(rpm's version order decides a downgrade: the rpm bindings are needed)."""

from __future__ import annotations

from emtk3s.model.lock import Component, Lock
from emtk3s.workflows.bump import component_changes


def _lock(k8s: str) -> Lock:
    facts = {
        "VERSION_K8S_K3S": k8s,
        "VERSION_RUNC": "v1.2.5",
        "modules": {"k8s_k3s": {"module": "k8s.io/kubernetes", "version": k8s}},
    }
    comp = Component("k3s", "k3s-io/k3s", "v1.32.4+k3s1", "a" * 40, 1, facts)
    return Lock("d" * 64, "v1.32.4+k3s1", {"k3s": comp}, {})


def test_a_module_and_its_version_fact_are_one_change() -> None:
    changes = component_changes(_lock("v1.32.4-k3s1"), _lock("v1.32.5-k3s1"))
    assert [c["component"] for c in changes] == ["k8s-k3s"]
