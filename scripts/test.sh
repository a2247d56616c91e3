#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs the test oracles (locked npm packages), builds, runs every
# test project, then runs the kernel tests again with AVX-512 off and with all hardware intrinsics off so the
# narrower SIMD paths and the scalar fallbacks are proven too.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-oracles.sh

dotnet build SharpSeek.slnx -c Release -warnaserror --nologo -v quiet
dotnet test SharpSeek.slnx -c Release --no-build --nologo
echo "== kernel tests with DOTNET_EnableAVX512=0"
DOTNET_EnableAVX512=0 dotnet test tests/SharpSeek.Tensors.Tests -c Release --no-build --nologo
echo "== kernel tests with DOTNET_EnableHWIntrinsic=0"
DOTNET_EnableHWIntrinsic=0 dotnet test tests/SharpSeek.Tensors.Tests -c Release --no-build --nologo
