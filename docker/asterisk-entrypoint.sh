#!/usr/bin/env bash
# Entrypoint of the Asterisk image (Dockerfile.asterisk): render the configuration templates into
# /etc/asterisk, then run Asterisk in the foreground on them, as the image's user.
#
#   asterisk-entrypoint [ASTERISK-ARGS...]   render, then exec asterisk -f -C /etc/asterisk/asterisk.conf
#   asterisk-entrypoint render               render only (to check a configuration), then exit
#
# The same placeholders, variables, checks and layout as scripts/asterisk (docs/asterisk.md):
#   CALLCENTER__AMI__SECRET          @AMI_SECRET@        required
#   CALLCENTER_AGENT_SIP_SECRET      @AGENT_SIP_SECRET@  required
#   CALLCENTER_AGI_URL               @AGI_URL@           agi://127.0.0.1:4573
#   CALLCENTER_SIP_PORT              @SIP_PORT@          5060
#   CALLCENTER_AMI_PORT              @AMI_PORT@          5038
#   CALLCENTER_ASTERISK_OVERLAY      a directory (mount one) whose files are rendered next to the
#                                    others, e.g. manager_overlay.conf to give AMI a private address
# Where the templates are and where they go (the image's layout; changed only to check them):
#   CALLCENTER_ASTERISK_TEMPLATES    /usr/share/callcenter/asterisk  (config/ and dialplans/)
#   CALLCENTER_ASTERISK_ETC          /etc/asterisk
set -euo pipefail
# Without this, a failed check inside $(...) would not stop the script.
shopt -s inherit_errexit

TEMPLATES="${CALLCENTER_ASTERISK_TEMPLATES:-/usr/share/callcenter/asterisk}"
ETC="${CALLCENTER_ASTERISK_ETC:-/etc/asterisk}"
MARKER=.callcenter                      # a directory rendered by us (as scripts/asterisk marks it)

die() {
    echo "asterisk-entrypoint: $*" >&2
    exit 1
}

# A placeholder's value from the environment, checked: it goes into configuration lines.
value() {
    local name="$1" default="${2-}" pattern="$3" what="$4" v
    v="${!name:-$default}"
    [ -n "$v" ] || die "$name must be set"
    [[ "$v" =~ $pattern ]] || die "$name must be $what"
    printf '%s' "$v"
}

sed_escape() {
    printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'
}

# Secrets: 8 or more characters that mean nothing to Asterisk's configuration parser
# (`;` starts a comment, `,` separates values, spaces are trimmed).
SECRET_RE='^[A-Za-z0-9._~+/=-]{8,128}$'
PORT_RE='^([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$'
AGI_RE='^agi://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$'

render_script() {
    local ami sip agi sip_port ami_port
    ami="$(value CALLCENTER__AMI__SECRET "" "$SECRET_RE" "8 to 128 characters of A-Z a-z 0-9 . _ ~ + / = -")"
    sip="$(value CALLCENTER_AGENT_SIP_SECRET "" "$SECRET_RE" "8 to 128 characters of A-Z a-z 0-9 . _ ~ + / = -")"
    agi="$(value CALLCENTER_AGI_URL agi://127.0.0.1:4573 "$AGI_RE" "agi://HOST[:PORT] (no path)")"
    sip_port="$(value CALLCENTER_SIP_PORT 5060 "$PORT_RE" "a port number")"
    ami_port="$(value CALLCENTER_AMI_PORT 5038 "$PORT_RE" "a port number")"
    printf 's|@AMI_SECRET@|%s|g\ns|@AGENT_SIP_SECRET@|%s|g\ns|@AGI_URL@|%s|g\ns|@SIP_PORT@|%s|g\ns|@AMI_PORT@|%s|g\n' \
        "$(sed_escape "$ami")" "$(sed_escape "$sip")" "$(sed_escape "$agi")" "$sip_port" "$ami_port"
}

# Every file of SRC into DEST (relative paths kept), placeholders replaced; owner-only, as the
# files hold secrets.
render_tree() {
    local src="$1" dest="$2" script="$3" rel
    [ -d "$src" ] || return 0
    while IFS= read -r -d '' rel; do
        rel="${rel#./}"
        mkdir -p "$dest/$(dirname "$rel")"
        sed -e "$script" "$src/$rel" >"$dest/$rel"
        chmod 600 "$dest/$rel"
    done < <(cd "$src" && find . -type f ! -name '.*' -print0)
}

# ETC is rendered afresh at every start: asterisk-config/* at the top, dialplans/* in
# dialplans/, then the overlay's files at the top. Only a directory that is empty or was
# rendered by us is emptied first.
render() {
    local script overlay="${CALLCENTER_ASTERISK_OVERLAY:-}" left
    script="$(render_script)"
    [ -z "$overlay" ] || [ -d "$overlay" ] || die "CALLCENTER_ASTERISK_OVERLAY is not a directory: $overlay"
    [ -d "$TEMPLATES/config" ] || die "no templates in $TEMPLATES/config"
    (umask 077 && mkdir -p "$ETC")
    if [ -f "$ETC/$MARKER" ]; then
        find "$ETC" -mindepth 1 -delete
    elif [ -n "$(ls -A "$ETC")" ]; then
        die "$ETC is neither empty nor rendered by this entrypoint: not touching it"
    fi
    render_tree "$TEMPLATES/config" "$ETC" "$script"
    render_tree "$TEMPLATES/dialplans" "$ETC/dialplans" "$script"
    [ -z "$overlay" ] || render_tree "$overlay" "$ETC" "$script"
    touch "$ETC/$MARKER"
    [ -f "$ETC/asterisk.conf" ] || die "no asterisk.conf among the templates"
    if left="$(grep -rlE '@[A-Z][A-Z_]*@' "$ETC")"; then
        die "placeholders left unrendered in: $left"
    fi
}

render
if [ "${1:-}" = render ]; then
    echo "asterisk-entrypoint: configuration rendered into $ETC"
    exit 0
fi
exec asterisk -f -C "$ETC/asterisk.conf" "$@"
