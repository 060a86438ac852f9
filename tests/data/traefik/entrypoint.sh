#!/bin/sh
# Stand-in (our own text) for traefik/traefik-library-image's v3.3/alpine/entrypoint.sh at tag
# v3.3.6 (commit acca84c01faba97c6a6bcfdde5d6cb8d0b92a9af), with the same behaviour: options
# alone run traefik with them; a word traefik knows as a subcommand (`traefik <word> --help`
# succeeds) runs traefik with it; anything else is run as a command, saying so on stderr.
set -e
case "$1" in
    -*) set -- traefik "$@" ;;
    *)
        if traefik "$1" --help > /dev/null 2>&1; then
            set -- traefik "$@"
        else
            echo "= '$1' is not a Traefik command: assuming shell execution." >&2
        fi
        ;;
esac
exec "$@"
