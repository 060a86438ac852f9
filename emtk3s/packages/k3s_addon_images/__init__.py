"""The images K3s deploys as addons (pause, coredns, busybox, local-path-provisioner,
metrics-server, klipper-helm, klipper-lb, traefik), built from source and written as
deterministic OCI archives (``ociarchive.py``) that K3s imports at start, with no registry."""
