#!/usr/bin/env python3
"""Copy programs of the build host, with the shared libraries they load, into an image tree.

klipper-helm's upstream image installs bash and jq from Alpine; ours takes them from EMT's own
RPMs (BuildRequires bash jq): k3s-addon-images' %build copies the build host's programs and
the libraries they need into the layer. What a program needs is read from its ELF file, never
by running it (no ldd): ``PT_INTERP`` (the loader) and the ``DT_NEEDED`` entries of its
dynamic section, recursively, each found in the loader's default directories in order. A
library is written at the directory it was found in (which the loader of the image searches
too), with the bytes of the file the name resolves to. Standard library only: it runs inside
the RPM build, as a Source of the spec (ours, pinned by its hash).

Usage: ``elfclosure.py DEST HOST_PATH=IMAGE_PATH ...``; prints the image paths it wrote.
A program or library that is missing or not a 64-bit little-endian ELF file is an error
naming it (exit 1, nothing left half-written in DEST's files).
"""

from __future__ import annotations

import os
import shutil
import struct
import sys

#: where the loader looks without an ld.so.cache (glibc's system directories, multiarch first
#: on Debian; EMT keeps its libraries in /usr/lib and /usr/lib64)
MULTIARCH = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_STRTAB = 0, 1, 5


class ClosureError(ValueError):
    """A program or library that cannot be followed (the message names it)."""


def search_dirs(machine: str = "") -> list[str]:
    triplet = MULTIARCH.get(machine or os.uname().machine, "")
    dirs = ["/lib64", "/usr/lib64"]
    if triplet:
        dirs += [f"/lib/{triplet}", f"/usr/lib/{triplet}"]
    return dirs + ["/lib", "/usr/lib"]


def elf_deps(path: str) -> tuple[str, list[str]]:
    """(interpreter, DT_NEEDED names) of an ELF64 little-endian file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ClosureError(f"{path}: not a 64-bit little-endian ELF file")
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    loads: list[tuple[int, int, int]] = []  # (vaddr, offset, filesz)
    interp, dynamic = "", None
    for i in range(phnum):
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize
        )
        if p_type == PT_LOAD:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == PT_INTERP:
            interp = data[p_offset : p_offset + p_filesz].split(b"\0", 1)[0].decode()
        elif p_type == PT_DYNAMIC:
            dynamic = (p_offset, p_filesz)
    if dynamic is None:
        return interp, []  # static
    needed: list[int] = []
    strtab = None
    off, size = dynamic
    for pos in range(off, off + size, 16):
        tag, val = struct.unpack_from("<qQ", data, pos)
        if tag == DT_NULL:
            break
        if tag == DT_NEEDED:
            needed.append(val)
        elif tag == DT_STRTAB:
            strtab = val
    if strtab is None:
        raise ClosureError(f"{path}: a dynamic section without a string table")
    base = next((o + strtab - v for v, o, n in loads if v <= strtab < v + n), None)
    if base is None:
        raise ClosureError(f"{path}: the string table is in no loaded segment")
    names = [data[base + n : data.index(b"\0", base + n)].decode() for n in needed]
    return interp, names


def find_library(name: str, dirs: list[str]) -> str:
    for d in dirs:
        candidate = os.path.join(d, name)
        if os.path.exists(candidate):
            return candidate
    raise ClosureError(f"library {name} not found in {':'.join(dirs)}")


def closure(programs: dict[str, str], machine: str = "") -> dict[str, str]:
    """image path -> host path of the programs and everything they load."""
    dirs = search_dirs(machine)
    out: dict[str, str] = {}
    todo = list(programs.items())
    while todo:
        image_path, host_path = todo.pop()
        if image_path in out:
            continue
        if not os.path.isfile(host_path):
            raise ClosureError(f"{host_path}: no such file on the build host")
        out[image_path] = host_path
        interp, needed = elf_deps(host_path)
        if interp:
            todo.append((interp.lstrip("/"), interp))
        for name in needed:
            found = find_library(name, dirs)
            todo.append((found.lstrip("/"), found))
    return dict(sorted(out.items()))


def main(argv: list[str]) -> int:
    if len(argv) < 2 or any("=" not in a for a in argv[1:]):
        print("usage: elfclosure.py DEST HOST_PATH=IMAGE_PATH ...", file=sys.stderr)
        return 2
    dest = argv[0]
    programs = {img.lstrip("/"): host for host, img in (a.split("=", 1) for a in argv[1:])}
    try:
        files = closure(programs)
        for image_path, host_path in files.items():
            target = os.path.join(dest, image_path)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            tmp = target + ".part"
            shutil.copyfile(os.path.realpath(host_path), tmp)
            os.chmod(tmp, 0o755)  # programs and libraries alike, as their packages install them
            os.replace(tmp, target)
            print(image_path)
        return 0
    except (ClosureError, OSError, struct.error, UnicodeDecodeError) as exc:
        print(f"elfclosure: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
