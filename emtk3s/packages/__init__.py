"""The packages emtk3s builds, one folder each, and the one list of them: :func:`emtk3s.catalog.load`
imports the folders ``FOLDERS`` names (adding a package = a folder + its name here).

Importing this module imports no package: ``--help`` and the mirror names need none."""

#: the package folders, in the order the catalog reads them
FOLDERS = (
    "fuse_overlayfs",
    "k3s",
    "k3s_addon_coredns",
    "k3s_addon_helm",
    "k3s_addon_helm_mapkubeapis",
    "k3s_addon_helm_set_status",
    "k3s_addon_images",
    "k3s_addon_klipper_helm",
    "k3s_addon_klipper_lb",
    "k3s_addon_local_path_provisioner",
    "k3s_addon_metrics_server",
    "k3s_addon_pause",
    "k3s_addon_traefik",
    "k3s_iptables_helpers",
    "k3s_root",
    "slirp4netns",
)

#: upstream bases the packages add to the mirrors every release has. buildroot: its backup of
#: every download k3s-root's buildroot makes, over https (the per-download Sources are fetched
#: from here; point it at a mirror like the others: EMTK3S_MIRROR_BUILDROOT)
#: emt_sources: EMT's source server (its toolkit/Makefile's SOURCE_URL), where a source pinned from
#: EMT's own record (`emtk3s emt pin`) is fetched by EMT's basename (EMTK3S_MIRROR_EMT_SOURCES)
MIRRORS = {
    "buildroot": "https://sources.buildroot.net",
    "emt_sources": "https://files-rs.edgeorchestration.intel.com/files-edge-orch/microvisor/sources",
}
