"""Templates name sources by their SourceRule key, never by position: the k3s spec stays right
when the lock lists its sources in another order, and airgap sources are found by their flag."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from emtk3s import catalog
from emtk3s.model import release as release_toml
from emtk3s.model.lock import Lock
from emtk3s.stages.render import render_package

CATALOG = catalog.load()

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def _spec(lock: Lock, airgap: bool = False) -> str:
    release = release_toml.load(GOLDEN / "release.toml", CATALOG, environ={})
    release = dataclasses.replace(release, airgap_images=airgap)
    return render_package(release, lock, CATALOG.packages["k3s"], None).files["k3s.spec"].decode()


def _source_names(spec: str) -> dict[str, str]:
    return {
        m.group(1): m.group(2).rsplit("#/", 1)[-1].rsplit("/", 1)[-1]
        for m in re.finditer(r"^Source(\d+):\s+(\S+)$", spec, re.M)
    }


def test_k3s_spec_names_sources_by_key_not_position() -> None:
    lock = Lock.from_json((GOLDEN / "lock.json").read_text(), CATALOG.mirrors)
    k3s = lock.packages["k3s"]
    # Source0 stays the tarball %setup unpacks; every other source moves
    shuffled = [k3s.sources[0], *reversed(k3s.sources[1:])]
    lock = dataclasses.replace(
        lock, packages=lock.packages | {"k3s": dataclasses.replace(k3s, sources=shuffled)}
    )
    spec = _spec(lock)
    names = _source_names(spec)

    def used(pattern: str) -> list[str]:
        line = next(ln for ln in spec.splitlines() if re.search(pattern, ln))
        return [names[n] for n in re.findall(r"%\{SOURCE(\d+)\}", line)]

    assert used(r"^tar -xf %\{SOURCE\d+\}$") == ["k3s-vendor-1.32.4+k3s1.tar.gz"]
    assert used(r"opencontainers/runc --strip") == ["runc-v1.2.5.tar.gz"]
    # where upstream's scripts/build looks (containerd/containerd, the plugins tree
    # with flannel's plugin as its meta/flannel package)
    assert used(r"containerd/containerd --strip") == ["containerd-v2.0.4-k3s2.tar.gz"]
    assert used(r"containernetworking/plugins --strip") == ["rancher-plugins-v1.6.0-k3s1.tar.gz"]
    assert used(r"plugins/meta/flannel --strip") == ["flannel-v1.6.0-flannel1.tar.gz"]
    assert used(r"build/static/charts/$") == [
        "traefik-crd-34.2.1+up34.2.0.tgz",
        "traefik-34.2.1+up34.2.0.tgz",
    ]
