#!/usr/bin/env bash
# The inner half of `atticd-atticadm`: what runs inside the transient systemd unit, as the
# service's user and with the credentials file's variables already in the environment
# (systemd reads EnvironmentFile= as root, so the file can stay readable by root only).
#
# Placeholders (each name between two at signs), replaced with shell-quoted values by
# nixos/lib.nix `substitutePlaceholders`:
#   atticadm     the atticadm executable
#   configFile   the checked server.toml

# The unit runs in /; go back to the caller's directory so relative paths in arguments work.
if [ -n "${ATTICADM_PWD:-}" ]; then
  if ! cd "$ATTICADM_PWD"; then
    echo "Warning: Failed to change directory to $ATTICADM_PWD" >&2
  fi
fi

exec @atticadm@ -f @configFile@ "$@"
