"""The packages emtk3s builds, one folder each. ``ALL`` is the one list of them:
:func:`emtk3s.catalog.load` reads it (adding a package = a folder + a line here)."""

from emtk3s.packages import (
    fuse_overlayfs,
    k3s,
    k3s_addon_coredns,
    k3s_addon_images,
    k3s_addon_klipper_lb,
    k3s_addon_metrics_server,
    k3s_addon_pause,
    k3s_iptables_helpers,
    k3s_root,
    slirp4netns,
)

ALL = (
    fuse_overlayfs,
    k3s,
    k3s_addon_coredns,
    k3s_addon_images,
    k3s_addon_klipper_lb,
    k3s_addon_metrics_server,
    k3s_addon_pause,
    k3s_iptables_helpers,
    k3s_root,
    slirp4netns,
)
