#!/bin/sh
# Installs what one harness runs next to the harness bundle, into ./node_modules, from
# runtime/<harness>/package-lock.json (npm checks every tarball against its sha512 there).
# Run by sandbox/harness/Dockerfile in a build stage that has python3, make and g++.
#
#   - npm installs only the native package of the image's platform (os/cpu/libc of each
#     optional package), so each binary is there once;
#   - no package script runs: node-pty's addon is compiled here with the node-gyp that ships
#     with npm, against the base image's own headers (no header download), and each CLI's
#     `bin` link points at its native binary instead of a second copy made by a postinstall;
#   - what the running image never reads (node-pty's sources and foreign prebuilds) is removed;
#   - each program must answer --version, so a missing binary fails the build, not a sandbox.
set -eu
harness="$1"
npm ci --omit=dev --ignore-scripts --no-audit --no-fund
bin=node_modules/.bin
mkdir -p "$bin"

# The one native package of a family that npm installed for this platform.
native() { # <glob under node_modules>
  set -- node_modules/$1
  if [ "$#" -ne 1 ] || [ ! -d "$1" ]; then
    echo "install.sh: expected exactly one native package for $(uname -m), found: $*" >&2
    exit 1
  fi
  echo "$1"
}

build_node_pty() {
  (cd node_modules/node-pty &&
    node "$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js" rebuild --nodedir=/usr/local)
  rm -rf node_modules/node-pty/prebuilds node_modules/node-pty/src node_modules/node-pty/deps \
    node_modules/node-pty/third_party node_modules/node-pty/build/Release/obj.target \
    node_modules/node-pty/build/Release/.deps node_modules/node-addon-api
  node -e "require('node-pty')"
}

case "$harness" in
  opencode)
    ln -sf "../$(native 'opencode-linux-*' | sed 's|^node_modules/||')/bin/opencode" "$bin/opencode"
    "$bin/opencode" --version
    ;;
  claude-agent-sdk)
    "$(native '@anthropic-ai/claude-agent-sdk-linux-*')/claude" --version
    ;;
  claude-code)
    build_node_pty
    ln -sf "../$(native '@anthropic-ai/claude-code-linux-*' | sed 's|^node_modules/||')/claude" "$bin/claude"
    "$bin/claude" --version
    ;;
  codex)
    build_node_pty
    "$bin/codex" --version
    ;;
  *)
    echo "install.sh: unknown harness '$harness': use opencode, claude-agent-sdk, claude-code or codex" >&2
    exit 1
    ;;
esac
