# Fixture helper (our own text, no upstream file of this name): what buildroot 2024.02.7's
# show-info (package/pkg-utils.mk: name, type, version, licenses, license_files, dl_dir,
# downloads with their uris), printvars (Makefile) and download step (support/download/
# dl-wrapper without network, support/download/check-hash: every download needs a hash file
# entry, sha256 or sha512, that matches) do for the packages of this fixture tree
# (buildroot/buildroot commit 8824652187e4b80ac314b448c2e60e5c6fdebf1b).
import hashlib
import json
import os
import re
import sys


def mk(pkgdir):
    out = {}
    path = f"package/{pkgdir}/{pkgdir}.mk"
    for line in open(path):
        m = re.match(r"^([A-Z0-9_]+)\s*=\s*(.*)$", line.rstrip("\n"))
        if m:
            out[m.group(1)] = m.group(2)
    return out

def packages():
    enabled = []
    for line in open(".config"):
        m = re.match(r"^BR2_PACKAGE_([A-Z0-9_]+)=y$", line.strip())
        if m:
            d = m.group(1).lower().replace("_", "-")
            if os.path.isfile(f"package/{d}/{d}.mk"):
                enabled.append((d, d))
    # the toolchain's own packages, always built
    enabled += [("musl-compat-headers", "musl-compat-headers"), ("host-binutils", "binutils"),
                ("host-gettext-tiny", "gettext-tiny")]
    for var, pkg in (("BR2_TAR_HOST_DEPENDENCY", "tar"),):
        if os.environ.get(var):
            enabled.append((os.environ[var], pkg))
    return enabled

def var(pkg):
    return pkg.upper().replace("-", "_")

def info():
    out = {}
    for name, d in packages():
        v = mk(d)
        p = var(d)
        dls = []
        for i, src in enumerate(v.get(f"{p}_SOURCE", "").split()):
            site = v.get(f"{p}_SITE", "").split()[i]
            method = "" if i else site.split(":")[0] + "+"
            dls.append({"source": src, "uris": [method + site,
                        f"http|urlencode+http://sources.buildroot.net/{d}",
                        "http|urlencode+http://sources.buildroot.net"]})
        out[name] = {"type": "host" if name.startswith("host-") else "target", "name": name,
                     "virtual": False, "version": v.get(f"{p}_VERSION", ""),
                     "licenses": v.get(f"{p}_LICENSE", ""),
                     "license_files": v.get(f"{p}_LICENSE_FILES", "").split(),
                     "dl_dir": d, "downloads": dls}
    return out

def hash_files():
    return {f"{var(name)}_HASH_FILES": f"package/{d}//{d}.hash" for name, d in packages()}

def check():
    dl = os.environ["BR2_DL_DIR"]
    for name, d in packages():
        recorded = {}
        for line in open(f"package/{d}/{d}.hash"):
            f = line.split()
            if len(f) == 3 and not line.startswith("#"):
                recorded.setdefault(f[2], []).append((f[0], f[1]))
        for e in info()[name]["downloads"]:
            path = os.path.join(dl, d, e["source"])
            if not os.path.isfile(path):
                sys.exit(f"{d}/{e['source']}: not in BR2_DL_DIR and no network to download it")
            data = open(path, "rb").read()
            for algo, want in recorded.get(e["source"], []):
                if hashlib.new(algo, data).hexdigest() != want:
                    sys.exit(f"ERROR: {e['source']} has wrong {algo} hash")
            if e["source"] not in recorded:
                sys.exit(f"ERROR: no hash file entry for {e['source']}")

if sys.argv[1] == "json":
    print(json.dumps(info(), indent=1))
elif sys.argv[1] == "vars":
    pats = [re.compile("^" + re.escape(p).replace("%", ".*") + "$") for p in sys.argv[2].split()]
    allvars = hash_files() | {v: os.environ.get(v, "") for v in
                               ("BR2_TAR_HOST_DEPENDENCY", "BR2_XZCAT_HOST_DEPENDENCY", "BR2_LZIP_HOST_DEPENDENCY")}
    for k in sorted(allvars):
        if any(p.match(k) for p in pats):
            print(f"{k}={allvars[k]}")
else:
    check()
