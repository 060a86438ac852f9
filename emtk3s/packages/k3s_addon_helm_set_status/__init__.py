"""klipper-helm's helm-set-status plugin (k3s-io/helm-set-status at the tag its Dockerfile
names), built in Go as its Makefile's ``make install`` builds it: CGO_ENABLED=1, tags
``static_build netcgo osusergo``, ``-ldflags "-X main.version=<plugin.yaml version>
-extldflags -static -w -s"`` plus ``-linkmode external`` (without it Go links internally and
ignores -extldflags: a binary dynamic on the image's libc), installed with its plugin.yaml.
Under a private prefix."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from emtk3s.infra.errors import InputError
from emtk3s.packages.k3s_addon_klipper_helm import go_package

if TYPE_CHECKING:
    from emtk3s.infra.git import TagCheckout

#: the Makefile's VERSION: sed -n -e 's/version:[ "]*\([^"]*\).*/\1/p' plugin.yaml
_VERSION = re.compile(r'^version:[ "]*(?P<v>[0-9][0-9A-Za-z.+-]*)', re.M)


def _facts(checkout: TagCheckout) -> dict[str, Any]:
    where = f"k3s-io/helm-set-status {checkout.info.tag}:plugin.yaml"
    text = checkout.read("plugin.yaml").decode("utf-8", "replace") if checkout.exists("plugin.yaml") else ""  # fmt: skip
    m = _VERSION.search(text)
    if not m:
        raise InputError(f"{where}: no version: line", "report it")
    return {"plugin_version": m.group("v")}


COMPONENTS, PACKAGE = go_package(
    package="k3s-addon-helm-set-status",
    component="helm-set-status",
    repo="k3s-io/helm-set-status",
    fact="set_status_tag",
    summary="klipper-helm's helm-set-status plugin, built from source",
    facts=_facts,
)
