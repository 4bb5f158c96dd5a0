#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Per-user permissions (user "limited" may publish and subscribe only on allowed.>): allowed
# subjects work; send to a forbidden subject exits 2 naming the subject and "permissions
# violation" (no msg_id, no exit 0 for a dropped message); listen on a forbidden subject
# exits 2 instead of waiting silently. No output holds a secret.
source "$(dirname "$0")/lib.sh" "$@"
start_methods perms
AUTH=(-s "$URL_perms" --user limited --password "$LIMITED_PASSWORD")

roundtrip allowed allowed.one "${AUTH[@]}"
refused 'permissions violation' send forbidden.pub "${AUTH[@]}" --text a=b
has "$T/run.err" forbidden.pub
refused 'permissions violation' send forbidden.pub "${AUTH[@]}" --text a=b --json
has "$T/run.err" forbidden.pub
listen_refused 'permission' forbidden.sub "${AUTH[@]}"
has "$T/run.err" forbidden.sub
# reply subscribes like listen: refused on a forbidden subject; request publishes like send
refused 'permission' reply forbidden.rep "${AUTH[@]}" --echo --count 1 --timeout 10
has "$T/run.err" forbidden.rep
refused 'permission' request forbidden.req "${AUTH[@]}" --text q=x --timeout 5
has "$T/run.err" forbidden.req
# the same through the environment
NATS_URL=$URL_perms NATS_USER=limited NATS_PASSWORD=$LIMITED_PASSWORD \
    refused 'permissions violation' send forbidden.env --text a=b
# an allowed subject still works after the refusals
roundtrip allowed-again allowed.two "${AUTH[@]}"
finish
