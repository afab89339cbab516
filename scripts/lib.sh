# Shell functions the scripts share; sourced, not run.

# apt_install PACKAGE...: installs the missing ones without letting their maintainer scripts
# start a service (the packaged Kamailio would start on port 5060; the tests run their own
# instances on free ports).
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    echo "setup: installing ${missing[*]}"
    if [[ $(id -u) -ne 0 ]]; then
        echo "setup: need root to install Debian packages: ${missing[*]}" >&2
        return 1
    fi
    local policy=/usr/sbin/policy-rc.d own_policy=
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own_policy=1
    fi
    local status=0
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null; } || status=$?
    [[ -z $own_policy ]] || rm -f "$policy"
    return $status
}
