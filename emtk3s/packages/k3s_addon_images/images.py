"""What goes into each addon image: the payload's files (built from source by its package),
the userland it needs, and its config as its upstream Dockerfile sets it, plus what the
upstream's base image gives it (passwd/group entries, /tmp, PATH, the CA bundle variable).

The descriptions are what ``ociarchive.py`` reads; render writes them into the k3s-addon-images
spec, whose %build runs the writer over them. Standard library only."""

from __future__ import annotations

from typing import Any

PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CA_IN_IMAGE = "etc/ssl/certs/ca-certificates.crt"

#: what upstream bases give an image, where the Dockerfile's final stage starts from one
#: (gcr.io/distroless/static-debian12: root, nobody and nonroot users; /tmp; PATH and
#: SSL_CERT_FILE; docker-library's busybox: PATH)
BASES: dict[str, dict[str, Any]] = {
    "scratch": {"env": [], "users": []},
    "": {"env": [], "users": []},
    "distroless-static": {
        "env": [PATH, f"SSL_CERT_FILE=/{CA_IN_IMAGE}"],
        "users": [
            ("root", 0, "/root"),
            ("nobody", 65534, "/nonexistent"),
            ("nonroot", 65532, "/home/nonroot"),
        ],  # fmt: skip
        "tmp": True,
        "ca": True,  # distroless carries the Debian CA bundle at CA_IN_IMAGE
    },
    "busybox": {"env": [PATH], "users": []},
    # an upstream FROM alpine: we never use Alpine; the image is our busybox userland with the
    # programs its Alpine packages gave (USERLAND)
    "alpine": {"env": [PATH], "users": []},
}

#: Alpine packages an upstream final stage installs -> the k3s-root programs that replace
#: them (k3s-root's bin/aux); a package of data, not programs, maps to none and is in
#: HOST_DATA instead; an unknown package is an error naming it
USERLAND: dict[str, tuple[str, ...]] = {
    "iptables": ("xtables-legacy-multi", "xtables-nft-multi"),
    "ip6tables": ("xtables-legacy-multi", "xtables-nft-multi"),
    "iptables-legacy": ("xtables-legacy-multi",),
    "nftables": ("xtables-nft-multi",),
    "ca-certificates": (),
    "tzdata": (),
}
#: Alpine data packages -> the build host's (EMT's) package whose files the image gets instead:
#: the CA bundle at Alpine's path, the time zone database as Alpine installs it
HOST_DATA: dict[str, str] = {"ca-certificates": "ca-certificates", "tzdata": "tzdata"}
ZONEINFO_IN_IMAGE = "usr/share/zoneinfo"

#: Alpine packages whose programs come from EMT's own RPMs (BuildRequires of
#: k3s-addon-images): package -> {program on the build host: its path in the image (where
#: Alpine's package puts it)}. %build copies them with the shared libraries they load
#: (elfclosure.py), never from Alpine
HOST_USERLAND: dict[str, dict[str, str]] = {
    "bash": {"/usr/bin/bash": "bin/bash"},
    "jq": {"/usr/bin/jq": "usr/bin/jq"},
}
#: Alpine packages that give the image the CA bundle (ours: the build host's, as coredns)
CA_PACKAGES = ("ca-certificates",)


def base_kind(base: str) -> str:
    """The kind of an upstream base image reference (what its layer gives, see BASES)."""
    if base.startswith("gcr.io/distroless/static"):
        return "distroless-static"
    if base in BASES:
        return base
    if base.startswith("alpine:") or base == "alpine":
        return "alpine"
    raise ValueError(f"upstream base image {base!r} is not known to emtk3s")


def _users(users: list[tuple[str, int, str]], shells: dict[str, str] | None = None,
           home_mode: str = "0700") -> list[dict[str, Any]]:  # fmt: skip
    if not users:
        return []
    shells = shells or {}
    # as lines: a description's strings are spec-safe tokens (no newline)
    passwd = [f"{n}:x:{i}:{i}:{n}:{h}:{shells.get(n, '/sbin/nologin')}" for n, i, h in users]
    group = [f"{n}:x:{i}:" for n, i, _h in users]
    out: list[dict[str, Any]] = [
        {"path": "etc/passwd", "lines": passwd},
        {"path": "etc/group", "lines": group},
    ]
    for _n, i, h in users:
        if h.startswith("/home/"):
            out.append({"path": h.lstrip("/"), "dir": True, "mode": home_mode, "uid": i, "gid": i})
    return out


def description(
    reference: str,
    architecture: str,
    created: int,
    upstream: dict[str, Any],
    payload: list[dict[str, Any]],
    ca_bundle: str = "",
) -> dict[str, Any]:
    """An ociarchive description: ``upstream`` is what dockerfile.parse read (base, config,
    capabilities); ``payload`` the files our packages built (path in the image -> source)."""
    kind = base_kind(str(upstream.get("base", "")))
    base = BASES[kind]
    config = dict(upstream["config"])
    env = list(base["env"])
    for e in config.get("Env", []):
        env = [x for x in env if x.split("=", 1)[0] != e.split("=", 1)[0]] + [e]
    if env:
        config["Env"] = env
    files: list[dict[str, Any]] = list(_users(base["users"]))
    added = upstream.get("users", [])
    if added:  # busybox adduser in an Alpine final stage: Alpine's root plus the new accounts
        accounts = [("root", 0, "/root")] + [(u["name"], u["uid"], u["home"]) for u in added]
        shells = {"root": "/bin/sh"} | {u["name"]: u["shell"] for u in added}
        files = _users(accounts, shells, home_mode="0755")  # busybox adduser: home 0755
    userland = upstream.get("userland", [])
    if (
        any(p in CA_PACKAGES for p in userland)
        and ca_bundle
        and not any(i.get("path") == CA_IN_IMAGE for i in payload)
    ):
        files.append({"path": CA_IN_IMAGE, "source": ca_bundle, "mode": "0644"})
    if base.get("tmp"):
        files.append({"path": "tmp", "dir": True, "mode": "1777"})
    if base.get("ca") and ca_bundle and not any(i["path"] == CA_IN_IMAGE for i in payload):
        files.append({"path": CA_IN_IMAGE, "source": ca_bundle, "mode": "0644"})
    caps = upstream.get("capabilities", {})
    for item in payload:
        item = dict(item)
        cap = caps.get("/" + str(item.get("path", "")))
        if cap:
            item["capabilities"] = cap["caps"]
            item["effective"] = cap["effective"]
        files.append(item)
    return {
        "reference": reference,
        "architecture": architecture,
        "created": created,
        "config": config,
        "files": files,
    }


def coredns_payload(binary: str, ca_bundle: str) -> list[dict[str, Any]]:
    return [
        {"path": "coredns", "source": binary, "mode": "0755"},
        {"path": CA_IN_IMAGE, "source": ca_bundle, "mode": "0644"},
    ]


def pause_payload(binary: str) -> list[dict[str, Any]]:
    return [{"path": "pause", "source": binary, "mode": "0755"}]


def binary_payload(path: str, binary: str) -> list[dict[str, Any]]:
    """One program at the path upstream's Dockerfile copies it to (metrics-server: /)."""
    return [{"path": path, "source": binary, "mode": "0755"}]


def busybox_payload(binary: str, applets: list[str]) -> list[dict[str, Any]]:
    """k3s-root's static busybox in /bin with its applet links (docker-library's layout)."""
    out: list[dict[str, Any]] = [{"path": "bin/busybox", "source": binary, "mode": "0755"}]
    out += [{"path": f"bin/{a}", "link": "busybox"} for a in sorted(set(applets)) if a != "busybox"]
    return out


def userland_programs(packages: list[str]) -> list[str]:
    """The k3s-root programs that replace ``packages`` (what EMT's RPMs or the CA bundle give
    is not one of them; an unknown package is an error naming it)."""
    out: set[str] = set()
    for pkg in packages:
        if pkg in HOST_USERLAND or pkg in CA_PACKAGES:
            continue
        if pkg not in USERLAND:
            raise ValueError(
                f"upstream installs Alpine package {pkg!r}, which emtk3s cannot replace from k3s-root"
            )
        out.update(USERLAND[pkg])
    return sorted(out)


def klipper_lb_payload(entry: str, busybox: str, aux: str, programs: list[str],
                       applets: list[str]) -> list[dict[str, Any]]:  # fmt: skip
    """klipper-lb: its entry in /usr/bin, busybox in /bin, the xtables programs in /usr/sbin
    (where the entry links iptables* to the detected mode's multi-call binary)."""
    out = busybox_payload(busybox, applets)
    out += [{"path": f"usr/sbin/{p}", "source": f"{aux}/{p}", "mode": "0755"} for p in programs]
    out.append({"path": "usr/bin/entry", "source": entry, "mode": "0755"})
    return out


def host_programs(packages: list[str]) -> dict[str, str]:
    """Build host program -> image path, for the Alpine packages EMT's RPMs replace."""
    out: dict[str, str] = {}
    for pkg in packages:
        out.update(HOST_USERLAND.get(pkg, {}))
    return dict(sorted(out.items()))


#: where helm looks for plugins in klipper-helm's image ($HOME/.local/share/helm/plugins,
#: HOME being the klipper-helm user's home, as its Dockerfile copies them)
HELM_PLUGINS = ".local/share/helm/plugins"
#: the files each plugin package installs (under /usr/lib/k3s-addons/<plugin>/) and the image
#: holds in the plugin's directory, as klipper-helm's Dockerfile installs them
HELM_PLUGIN_FILES = {
    "helm-set-status": (("helm-set-status", "0755"), ("plugin.yaml", "0644")),
    "helm-mapkubeapis": (("plugin.yaml", "0644"), ("bin/mapkubeapis", "0755"),
                         ("config/Map.yaml", "0644")),
}  # fmt: skip


def klipper_helm_payload(entry: str, helm: str, plugins: dict[str, str], busybox: str,
                         applets: list[str], userland_tree: str, home: str,
                         uid: int) -> list[dict[str, Any]]:  # fmt: skip
    """klipper-helm: busybox in /bin, bash and jq (with their libraries) from ``userland_tree``,
    helm and the entry in /usr/bin, the plugins in the user's ``$HOME/.local/share/helm/plugins``
    owned by ``uid`` (COPY --chown=1000:1000 upstream), a world-writable /tmp (Alpine's; the
    entry writes the chart and CA file there as that user)."""
    out = busybox_payload(busybox, applets)
    out.append({"tree": userland_tree, "path": ""})
    out.append({"path": "usr/bin/entry", "source": entry, "mode": "0755"})
    out.append({"path": "usr/bin/helm", "source": helm, "mode": "0755"})
    out.append({"path": "tmp", "dir": True, "mode": "1777"})
    top = f"{home.strip('/')}/{HELM_PLUGINS}"
    parts = top.split("/")
    for i in range(len(home.strip("/").split("/")) + 1, len(parts) + 1):
        out.append(
            {"path": "/".join(parts[:i]), "dir": True, "mode": "0755", "uid": uid, "gid": uid}
        )
    for name, src in sorted(plugins.items()):
        dirs = {f"{top}/{name}"}
        for file, mode in HELM_PLUGIN_FILES[name]:
            path = f"{top}/{name}/{file}"
            dirs.add(path.rsplit("/", 1)[0])
            out.append(
                {"path": path, "source": f"{src}/{file}", "mode": mode, "uid": uid, "gid": uid}
            )
        out += [
            {"path": d, "dir": True, "mode": "0755", "uid": uid, "gid": uid} for d in sorted(dirs)
        ]
    return out


def traefik_payload(binary: str, entrypoint: str, busybox: str, applets: list[str], ca_bundle: str,
                    zoneinfo: str, prebuilt: list[str]) -> list[dict[str, Any]]:  # fmt: skip
    """traefik: upstream's Alpine gives a shell for its entrypoint.sh, ``ca-certificates`` and
    ``tzdata``; ours: k3s-root's busybox in /bin, the build host's CA bundle and zoneinfo, the
    entrypoint at /entrypoint.sh, and our traefik where upstream's Dockerfile unpacks its prebuilt
    binary (``prebuilt``: /usr/local/bin/traefik)."""
    paths = [p.strip("/") for p in prebuilt] or ["usr/local/bin/traefik"]
    if len(paths) != 1:
        raise ValueError(f"upstream downloads {len(paths)} prebuilt programs; traefik builds one")
    out = busybox_payload(busybox, applets)
    out += [
        {"path": paths[0], "source": binary, "mode": "0755"},
        {"path": "entrypoint.sh", "source": entrypoint, "mode": "0755"},
        {"path": CA_IN_IMAGE, "source": ca_bundle, "mode": "0644"},
        {"path": ZONEINFO_IN_IMAGE, "tree": zoneinfo},
    ]
    return out


def host_data(packages: list[str]) -> list[str]:
    """The build host packages whose files replace these Alpine packages (HOST_DATA)."""
    return sorted({HOST_DATA[p] for p in packages if p in HOST_DATA})
