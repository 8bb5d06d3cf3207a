#!/usr/bin/env bash
# Debian packages for the second-generation data (issue #27): the English text sources (WordNet, the King James
# Bible and bible-kjv's reader) and the synthesizers (data_gen2.py, README.md has their licences).
# Idempotent: adds Debian's non-free component (only for SVOX Pico, libttspico-utils, whose licence is Apache-2.0
# but whose source package ships prebuilt language files, hence non-free) in a sources file of its own, once.
# Needs root. Usage: bash scripts/make_default_model/install_deps.sh
set -euo pipefail
NONFREE=/etc/apt/sources.list.d/debian-non-free.sources
if ! apt-cache policy libttspico-utils 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  . /etc/os-release
  cat > "$NONFREE" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: $VERSION_CODENAME $VERSION_CODENAME-updates
Components: non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt-get update -qq
fi
apt-get install -y --no-install-recommends \
  espeak-ng sox libsox-fmt-all \
  flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts libttspico-utils \
  wordnet-base bible-kjv bible-kjv-text
