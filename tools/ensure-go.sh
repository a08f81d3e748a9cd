#!/usr/bin/env bash
# Makes sure a Go toolchain (1.19+) is on PATH before a Go program of the repository is built
# (the vault relay, sandbox/vault/relay; the egress gateway, sandbox/egress-gateway). Used by `npm test`, `npm run local` and the benchmarks,
# so the README's commands work on a fresh machine: as root on Debian or Ubuntu it installs
# Debian's golang-go; anywhere else it says what to install and fails.
set -euo pipefail
command -v go >/dev/null 2>&1 && exit 0

install_cmd="apt-get install -y -q --no-install-recommends golang-go"
if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    # Only a sudo that needs no password: a prompt in the middle of `npm test` helps nobody.
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo="none"; fi
  fi
  if [ "$sudo" != "none" ]; then
    echo "Go is missing; installing Debian's golang-go (it builds the vault relay)" >&2
    $sudo apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive $sudo $install_cmd >&2
    command -v go >/dev/null 2>&1 && exit 0
  fi
fi
echo "The vault relay needs Go 1.19+ to build: run \`$install_cmd\` as root (Debian, Ubuntu) or install it from https://go.dev/dl" >&2
exit 1
