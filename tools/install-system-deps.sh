#!/usr/bin/env bash
# Install the real servers the integration tests start on 127.0.0.1 (OpenSSH sshd, Samba
# smbd). Debian/Ubuntu, as root. Services are NOT started by the package install: the tests
# start their own instances on free ports and stop them by PID.
set -euo pipefail
need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
[ -x /usr/sbin/smbd ] || need+=(samba)
command -v smbpasswd >/dev/null || need+=(samba-common-bin)
command -v smbclient >/dev/null || need+=(smbclient)  # the bench's SMB reference rows
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-system-deps: need root to install: ${need[*]}" >&2
    exit 1
fi
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
