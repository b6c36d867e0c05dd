#!/usr/bin/env bash
# `atticd-atticadm`: runs atticadm as the atticd service's user, with the service's
# credentials file, in a transient systemd unit, e.g. `atticd-atticadm make-token --sub alice
# --validity '3 months' --pull 'alice-*'`. Must be run as root (or with polkit rights to start
# units).
#
# Placeholders (each name between two at signs), replaced with shell-quoted values by
# nixos/lib.nix `substitutePlaceholders`:
#   systemdRun        the systemd-run executable
#   environmentFile   services.atticd.credentialsFile
#   user, group       services.atticd.user and .group
#   shim              the inner script (atticadm-shim.sh with its placeholders filled)

# --setenv passes the directory as one value; Attic's --property=Environment=... would split a
# directory name at spaces.
exec @systemdRun@ \
  --quiet \
  --pipe \
  --pty \
  --wait \
  --collect \
  --service-type=exec \
  --property=EnvironmentFile=@environmentFile@ \
  --property=DynamicUser=yes \
  --property=User=@user@ \
  --property=Group=@group@ \
  --setenv=ATTICADM_PWD="$PWD" \
  --working-directory / \
  -- \
  @shim@ "$@"
