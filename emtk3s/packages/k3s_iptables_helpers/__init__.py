"""k3s-root's iptables helper scripts, packaged for a read-only image.

Source basenames carry the package name and version: EMT's source server keys files by basename
alone, and bare LICENSE / README.md are already other EMT packages' (rule
emt-unique-source-basename)."""

from __future__ import annotations

from emtk3s.model.package import PackageDef, SourceRule

PACKAGE = PackageDef(
    name="k3s-iptables-helpers",
    component="k3s-root",
    summary="Iptables back-end detection helpers from k3s-root",
    on_image=True,
    sources=(
        SourceRule(
            "k3s-iptables-helpers-{version}-iptables-detect.sh",
            "raw",
            "/k3s-io/k3s-root/{tag}/iptables-detect/iptables-detect.sh",
            git_path="iptables-detect/iptables-detect.sh",
        ),
        SourceRule(
            "k3s-iptables-helpers-{version}-xtables-set-mode.sh",
            "raw",
            "/k3s-io/k3s-root/{tag}/iptables-detect/xtables-set-mode.sh",
            git_path="iptables-detect/xtables-set-mode.sh",
        ),
        SourceRule(
            "k3s-iptables-helpers-{version}-README.md",
            "raw",
            "/k3s-io/k3s-root/{tag}/iptables-detect/README.md",
            git_path="iptables-detect/README.md",
        ),
        SourceRule(
            "k3s-iptables-helpers-{version}-LICENSE",
            "raw",
            "/k3s-io/k3s-root/{tag}/LICENSE",
            git_path="LICENSE",
        ),
    ),
)
