"""k3s-root's iptables helper scripts, packaged for a read-only image."""

from __future__ import annotations

from emtk3s.model.package import PackageDef, SourceRule

PACKAGE = PackageDef(
    name="k3s-iptables-helpers",
    component="k3s-root",
    summary="Iptables back-end detection helpers from k3s-root",
    on_image=True,
    sources=(
        SourceRule(
            "iptables-detect.sh",
            "raw",
            "/k3s-io/k3s-root/{tag}/iptables-detect/iptables-detect.sh",
            git_path="iptables-detect/iptables-detect.sh",
        ),
        SourceRule(
            "xtables-set-mode.sh",
            "raw",
            "/k3s-io/k3s-root/{tag}/iptables-detect/xtables-set-mode.sh",
            git_path="iptables-detect/xtables-set-mode.sh",
        ),
        SourceRule(
            "README.md",
            "raw",
            "/k3s-io/k3s-root/{tag}/iptables-detect/README.md",
            git_path="iptables-detect/README.md",
        ),
        SourceRule("LICENSE", "raw", "/k3s-io/k3s-root/{tag}/LICENSE", git_path="LICENSE"),
    ),
)
