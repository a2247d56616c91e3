#!/usr/bin/env bash
# Installs llama.cpp's CPU build for linux-x64 (node-llama-cpp + @node-llama-cpp/linux-x64, ~85 MB) from the locked
# package-lock.json. `npm ci` cannot do it: node-llama-cpp lists a prebuilt package per platform as optional
# dependencies (CUDA, Vulkan, ARM, macOS, Windows: ~700 MB), registries that mirror only some of them leave those out of
# the lock file, and `npm ci` then refuses the lock. `npm install --omit=optional` installs exactly the locked tree
# minus the optional platform packages (the linux-x64 one is a direct dependency), checks every tarball against the
# lock's integrity hashes, and leaves package.json and the lock untouched (--no-save). Scripts are skipped: the
# package's postinstall would try to download or build llama.cpp, which the prebuilt binary makes unnecessary.
set -euo pipefail
cd "$(dirname "$0")"
export NODE_LLAMA_CPP_SKIP_DOWNLOAD=true
npm install --omit=optional --no-save --ignore-scripts --no-audit --no-fund --loglevel=error
# Prove the prebuilt binary loads on this machine (fails loudly here instead of at the first test).
node version.mjs
