"""K3s version compatibility between EMT images and cluster templates.

An EMT image embeds one K3s binary (read-only, no downloads at run time), so a cluster template
is compatible with an EMT host only when it asks for exactly the K3s tag the image embeds. An
Ubuntu host downloads K3s at cluster creation, so every template is compatible with it. A
mismatch is a *conflict* with HTTP 409 semantics; the message names both versions and how they
differ (other patch, other minor, other k3s build, release candidate).

Upgrading a host image: policy ``any`` allows every change (a warning when the K3s version
changes); ``same-minor`` refuses a change of major.minor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from emtk3s.infra.errors import ConflictError, InputError
from emtk3s.model.versions import K3sTag


@dataclass(frozen=True)
class Host:
    name: str
    os: str  # "emt" | "ubuntu"
    # the embedded K3s (EMT only)
    k3s: K3sTag | None = field(metadata={"json": lambda t: t.tag if t else None})


@dataclass(frozen=True)
class Template:
    name: str
    k3s: K3sTag = field(metadata={"json": lambda t: t.tag})


@dataclass
class Verdict:
    JSON_EXTRA: ClassVar[tuple[str, ...]] = ("http_status",)

    compatible: bool
    template: Template
    host: Host
    reason: str
    message: str
    warnings: list[str] = field(default_factory=list)

    @property
    def http_status(self) -> int:
        return 200 if self.compatible else 409


def _load_yaml(path: Path) -> Any:
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except FileNotFoundError:
        raise InputError(
            f"{path}: no such file", "give a file path or a version such as v1.32.4+k3s1"
        ) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid YAML ({type(exc).__name__})", "fix the file") from None
    if not docs:
        raise InputError(f"{path}: empty YAML", "")
    return docs


def _tag(value: Any, where: str) -> K3sTag:
    if not isinstance(value, str):
        raise InputError(f"{where}: K3s version missing or not a string", "e.g. v1.32.4+k3s1")
    try:
        return K3sTag.parse(value.strip())
    except InputError as exc:
        raise InputError(f"{where}: {exc.message}", exc.hint) from None


def parse_host(spec: str) -> Host:
    """``ubuntu``, ``emt:<tag>``, or an OS profile YAML (infra-core os-profiles shape)."""
    if spec.lower() == "ubuntu" or spec.lower().startswith("ubuntu:"):
        return Host(spec, "ubuntu", None)
    if spec.lower().startswith("emt:"):
        return Host(spec, "emt", _tag(spec[4:], f"host {spec!r}"))
    path = Path(spec)
    if not path.exists():
        raise InputError(f"host {spec!r} is not ubuntu, emt:<K3s tag> or an OS profile file", "")
    doc = _load_yaml(path)[0]
    if not isinstance(doc, dict):
        raise InputError(f"{path}: not an OS profile (a mapping)", "")
    spec_ = doc.get("spec") or {}
    meta = doc.get("metadata") or {}
    name = str(spec_.get("profileName") or path.stem)
    os_type = str(spec_.get("type", ""))
    text = " ".join(str(spec_.get(k, "")) for k in ("name", "profileName", "description")).lower()
    if "ubuntu" in text:
        return Host(name, "ubuntu", None)
    if os_type == "OS_TYPE_IMMUTABLE" or "microvisor" in text:
        return Host(
            name,
            "emt",
            _tag(meta.get("kubernetes-version"), f"{path}: metadata.kubernetes-version"),
        )
    raise InputError(
        f"{path}: cannot tell whether this profile is EMT or Ubuntu", "check spec.type / spec.name"
    )


def parse_template(spec: str) -> Template:
    """A K3s version string, or a KThreesControlPlaneTemplate / KThreesControlPlane YAML."""
    if not Path(spec).exists():
        return Template(spec, _tag(spec, f"template {spec!r}"))
    path = Path(spec)
    for doc in _load_yaml(path):
        if not isinstance(doc, dict):
            continue
        kind = doc.get("kind")
        name = str((doc.get("metadata") or {}).get("name") or path.stem)
        if kind == "KThreesControlPlaneTemplate":
            version = (((doc.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
                "version"
            )
            return Template(name, _tag(version, f"{path}: spec.template.spec.version"))
        if kind == "KThreesControlPlane":
            return Template(
                name, _tag((doc.get("spec") or {}).get("version"), f"{path}: spec.version")
            )
    raise InputError(f"{path}: no KThreesControlPlaneTemplate or KThreesControlPlane in it", "")


def _difference(want: K3sTag, have: K3sTag) -> str:
    if (want.major, want.minor) != (have.major, have.minor):
        return "other minor"
    if want.patch != have.patch:
        return "other patch"
    if want.rc != have.rc:
        return "release candidate differs"
    return "other k3s build"


def check(template: Template, host: Host) -> Verdict:
    if host.os == "ubuntu":
        return Verdict(
            True,
            template,
            host,
            "ubuntu",
            f"compatible: Ubuntu host {host.name} installs K3s {template.k3s.tag} at cluster creation",
        )
    assert host.k3s is not None
    if template.k3s == host.k3s:
        return Verdict(
            True,
            template,
            host,
            "exact",
            f"compatible: template {template.name} asks for K3s {template.k3s.tag}, "
            f"the EMT image of {host.name} embeds {host.k3s.tag}",
        )
    reason = _difference(template.k3s, host.k3s)
    return Verdict(
        False,
        template,
        host,
        reason,
        f"conflict (409): template {template.name} asks for K3s {template.k3s.tag} but the EMT "
        f"image of {host.name} embeds K3s {host.k3s.tag} ({reason}); use a template for "
        f"{host.k3s.tag} or update the host image",
    )


def require_compatible(template: Template, host: Host) -> Verdict:
    v = check(template, host)
    if not v.compatible:
        err = ConflictError(v.message, "pick a compatible template or host image")
        err.result = v
        raise err
    return v


def filter_pairs(hosts: list[Host], templates: list[Template]) -> list[Verdict]:
    """Only the compatible (host, template) pairs: what a UI should offer."""
    return [v for h in hosts for t in templates if (v := check(t, h)).compatible]


def upgrade(old: Host, new: Host, policy: str) -> Verdict:
    """May a host move from image ``old`` to image ``new`` under ``policy`` (any|same-minor)?"""
    if policy not in ("any", "same-minor"):
        raise InputError(f"policy {policy!r} is not any or same-minor", "")
    if old.os != "emt" or new.os != "emt" or old.k3s is None or new.k3s is None:
        raise InputError("upgrade compares two EMT images", "give emt:<tag> or EMT OS profiles")
    as_template = Template(new.name, new.k3s)
    warnings = []
    if old.k3s != new.k3s:
        warnings.append(
            f"the K3s version changes from {old.k3s.tag} to {new.k3s.tag}: the cluster follows the image"
        )
    if policy == "same-minor" and old.k3s.minor_line != new.k3s.minor_line:
        return Verdict(
            False,
            as_template,
            old,
            "other minor",
            f"conflict (409): policy same-minor refuses {old.k3s.tag} -> {new.k3s.tag} "
            f"(minor {old.k3s.major}.{old.k3s.minor} -> {new.k3s.major}.{new.k3s.minor})",
            warnings,
        )
    if new.k3s < old.k3s:
        warnings.append(f"{new.k3s.tag} is older than {old.k3s.tag}: a downgrade")
    return Verdict(
        True,
        as_template,
        old,
        "allowed",
        f"allowed by policy {policy}: {old.k3s.tag} -> {new.k3s.tag}",
        warnings,
    )


def control_plane_template(name: str, k3s: K3sTag, emt: bool = True) -> str:
    """A KThreesControlPlaneTemplate fragment for a K3s version; air-gapped on EMT hosts (the
    bootstrap then runs the embedded install script with INSTALL_K3S_SKIP_DOWNLOAD=true)."""
    doc: dict[str, Any] = {
        "apiVersion": "controlplane.cluster.x-k8s.io/v1beta2",
        "kind": "KThreesControlPlaneTemplate",
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"version": k3s.tag}}},
    }
    if emt:
        doc["spec"]["template"]["spec"]["kthreesConfigSpec"] = {"agentConfig": {"airGapped": True}}
    return yaml.safe_dump(doc, sort_keys=False)
