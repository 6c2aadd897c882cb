#!/usr/bin/env bash
# Fails (exit 1, one line per file:line) when a tracked file names an absolute path of this machine:
# the checkout's parent folder or the home folder, followed by "/". Both are read when it runs, so this
# script names none. Run from anywhere inside the checkout; .ci/run calls it before the tests.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
parent=$(cd .. && pwd)
status=0
checked=""
for prefix in "$parent" "${HOME:-}"; do
    prefix=${prefix%/}
    case " $checked " in *" $prefix "*) continue ;; esac  # the same folder twice (HOME is the parent)
    checked="$checked $prefix"
    [ -n "$prefix" ] || continue  # "/" or unset: not a machine-specific path
    while IFS= read -r hit; do
        echo "${hit%%:*}:$(cut -d: -f2 <<<"$hit"): names $prefix/ (an absolute path of this machine)"
        status=1
    done < <(git grep -n -I -F -e "$prefix/" -- . || true)
done
if [ "$status" -ne 0 ]; then
    echo "no_machine_paths: find files relative to the repository instead (../shared beside the checkout)" >&2
fi
exit "$status"
