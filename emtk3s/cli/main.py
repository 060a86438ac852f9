"""The command line's top-level group: the global options, and each command loaded from its own
module (emtk3s.cli.commands.<name>) only when it runs, so that ``--help`` and ``--version``
import no stage and run no discovery. Each command parses, calls one library function and
prints its result through the one encoder."""

from __future__ import annotations

from pathlib import Path

import click

from emtk3s import __version__
from emtk3s.cli.runner import Ctx, MainGroup, MirrorOption

#: command -> (module under emtk3s.cli.commands, its help): the help is what ``--help`` lists
#: without importing the module (tests/unit/test_docs.py checks that both agree)
COMMANDS: dict[str, tuple[str, str]] = {
    "all": ("all", "Run the chain; stages whose inputs did not change are skipped."),
    "build": (
        "build",
        "SRPMS/ -> RPMS/<arch>/ (then a local repo with createrepo_c). Use `chain` for many.",
    ),
    "bump": (
        "bump",
        "The CVE fast path: new K3s tag -> release.toml, lock, cache, SPECS with a changelog entry.",
    ),
    "chain": (
        "chain",
        "Build SPECS/ in dependency order (parallel where independent) into the local repo RPMS/.",
    ),
    "check-updates": (
        "check_updates",
        "Newer upstream K3s tags of the same minor; exit 100 when there is one (dnf's convention).",
    ),
    "compat": (
        "compat",
        "K3s version compatibility between cluster templates and hosts (EMT images, Ubuntu).",
    ),
    "emt": ("emt", "Work with an EMT checkout."),
    "fetch": ("fetch", "Download every source into the verified cache."),
    "license-check": (
        "license_check",
        'License: tags against the sources (SPDX); the changelog says "License verified." only then.',
    ),
    "mock-config": (
        "mock_config",
        "Write the mock config for EMT builds and print the mock command line.",
    ),
    "pin-images": (
        "pin_images",
        "Pin the manifest digest of every image archive a built package holds, per arch.",
    ),
    "render": (
        "render",
        "Lock + templates/ -> SPECS/<pkg>/ (spec, signatures.json, patches, changelog.json).",
    ),
    "resolve": ("resolve", "release.toml -> emtk3s.lock (tags, commits, sources)."),
    "root-diff": (
        "root_diff",
        "The binaries a package's tree bundles against EMT's SPECS (and a chroot): counts, actions.",
    ),
    "show": ("show", "Print what the lock holds (a component or package, or everything)."),
    "srpm": ("srpm", "SPECS/ + cache -> SRPMS/ (reproducible: same inputs, same bytes)."),
    "validate": (
        "validate",
        "rpmspec -P for each arch, no network command in build sections, rpmlint.",
    ),
    "vendor": (
        "vendor",
        "Make the Go vendor tarball(s) with the `go` on PATH (GOPROXY/GOFLAGS honoured), pin them.",
    ),
}


@click.group(cls=MainGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="emtk3s")
@click.option(
    "-C",
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project directory (holds release.toml, emtk3s.lock, SPECS/); default: the nearest "
    "directory upwards that holds release.toml.",
)
@click.option(
    "--release",
    "release_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="release.toml to use (default: PROJECT/release.toml).",
)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="EMTK3S_CACHE",
    help="Cache directory (default: $XDG_CACHE_HOME/emtk3s; env EMTK3S_CACHE).",
)
@click.option(
    "--mirror",
    "mirrors",
    cls=MirrorOption,
    multiple=True,
    metavar="NAME=URL",
    help="Override an upstream base URL (env EMTK3S_MIRROR_<NAME>).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout (for CI).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or result lines.")
@click.option(
    "--verify",
    is_flag=True,
    envvar="EMTK3S_VERIFY",
    help="Rehash every cached source, SRPM and RPM instead of trusting the stat record taken "
    "when it was verified (--locked implies it; env EMTK3S_VERIFY=1).",
)
@click.pass_context
def main(
    cctx: click.Context,
    project_dir: Path | None,
    release_file: Path | None,
    cache_dir: Path | None,
    mirrors: tuple[str, ...],
    as_json: bool,
    debug: bool,
    quiet: bool,
    verify: bool,
) -> None:
    """Turn an upstream K3s release into from-source RPMs for the Edge Microvisor Toolkit."""
    # the log handler is set up by the command's run() (logging's import is start-up time that
    # --help and a replayed no-op need not pay)
    cctx.obj = Ctx(
        project_dir, release_file, cache_dir, mirrors, as_json, debug, quiet or as_json, verify
    )


if __name__ == "__main__":
    main()
