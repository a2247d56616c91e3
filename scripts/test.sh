#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs the test oracles (locked npm packages), builds, runs every
# test project, then runs the kernel tests again with AVX-512 off and with all hardware intrinsics off so the
# narrower SIMD paths and the scalar fallbacks are proven too. In CI (CI=true) it ends with a bounded fuzzing run.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-oracles.sh

dotnet build SharpSeek.slnx -c Release -warnaserror --nologo -v quiet
dotnet test SharpSeek.slnx -c Release --no-build --nologo
echo "== kernel tests with DOTNET_EnableAVX512=0"
DOTNET_EnableAVX512=0 dotnet test tests/SharpSeek.Tensors.Tests -c Release --no-build --nologo
echo "== kernel tests with DOTNET_EnableHWIntrinsic=0"
DOTNET_EnableHWIntrinsic=0 dotnet test tests/SharpSeek.Tensors.Tests -c Release --no-build --nologo

# Bounded coverage-guided fuzzing of every parser target (docs/fuzzing.md): in CI, or when SHARPSEEK_FUZZ=1.
# The committed corpus was already replayed by SharpSeek.Fuzz.Tests above; this looks for new inputs, and any crash,
# hang or over-bound allocation it finds fails the run (the input is left under fuzz/.findings/<target>).
if [ "${CI:-}" = true ] || [ "${SHARPSEEK_FUZZ:-0}" = 1 ]; then
  if ! command -v afl-fuzz >/dev/null; then
    echo "== installing afl++ (Debian package) for the fuzz step"
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq afl++ >/dev/null
  fi
  echo "== bounded fuzzing: each target for ${SHARPSEEK_FUZZ_SECONDS:-15} s"
  bash scripts/fuzz.sh all "${SHARPSEEK_FUZZ_SECONDS:-15}"
fi
