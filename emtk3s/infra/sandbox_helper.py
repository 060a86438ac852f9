"""The sandbox's start-up helper, run as ``python -I -S sandbox_helper.py`` (the standard
library only: it starts in a few milliseconds):

``[--cgroup DIR] [--overlay OPTIONS MERGED] -- COMMAND…``: join the cgroup (before anything of
the sandbox can fork), mount the overlay (inside the private mount namespace ``unshare`` made,
so the mount lives only as long as the sandbox), then exec the command (bubblewrap under its
limits). Exit 97 when the cgroup or the overlay is refused.
"""

import os
import subprocess
import sys

FAILED = 97


def main(args: list[str]) -> int:
    if "--" not in args:
        print("usage: sandbox_helper.py [--cgroup DIR] [--overlay OPTS MERGED] -- CMD…")
        return 2
    split = args.index("--")
    opts, cmd = args[:split], args[split + 1 :]
    if "--cgroup" in opts:
        cg = opts[opts.index("--cgroup") + 1]
        try:
            with open(os.path.join(cg, "cgroup.procs"), "w") as fh:
                fh.write(f"{os.getpid()}\n")
        except OSError as exc:
            print(f"emtk3s sandbox: cannot join {cg}: {exc.strerror}", file=sys.stderr)
            return FAILED
    if "--overlay" in opts:
        i = opts.index("--overlay")
        mount_opts, merged = opts[i + 1], opts[i + 2]
        mnt = subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", mount_opts, merged],
            capture_output=True,
            text=True,
        )
        if mnt.returncode != 0:
            print(f"emtk3s sandbox: overlay mount failed: {mnt.stderr.strip()}", file=sys.stderr)
            return FAILED
    os.execvp(cmd[0], cmd)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
