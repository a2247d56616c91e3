#!/usr/bin/env bash
# Coverage-guided fuzzing of one target (or "all", one after another) with afl-fuzz and SharpFuzz; see docs/fuzzing.md.
#
#   scripts/fuzz.sh <target|all> <seconds>      fuzz for a fixed time
#   FUZZ_EXECS=1000000 scripts/fuzz.sh gguf 0   fuzz until about that many executions instead
#
# Builds the fuzz project into fuzz/.build, instruments the SharpSeek parser assemblies with the sharpfuzz tool (local
# tool manifest), seeds afl-fuzz with fuzz/corpus/<target> and writes its state to fuzz/.findings/<target>.
# Exits 1 when afl-fuzz saved a crash, or a hang that still hangs when replayed; the inputs are listed for replay with
#   dotnet fuzz/SharpSeek.Fuzz/bin/Release/net10.0/SharpSeek.Fuzz.dll <target> <file>   (the uninstrumented build)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ne 2 ]; then echo "usage: $0 <target|all> <seconds>" >&2; exit 2; fi
target=$1
seconds=$2
build=fuzz/.build
bin=$build/bin
replay=fuzz/SharpSeek.Fuzz/bin/Release/net10.0/SharpSeek.Fuzz.dll

if ! command -v afl-fuzz >/dev/null; then echo "afl-fuzz not found (Debian package afl++)" >&2; exit 2; fi

# Build and instrument once per source state; FUZZ_SKIP_BUILD=1 reuses the last instrumented build.
if [ "${FUZZ_SKIP_BUILD:-0}" != 1 ] || [ ! -f "$bin/.instrumented" ]; then
  rm -rf "$bin"
  dotnet build fuzz/SharpSeek.Fuzz -c Release --nologo -v quiet
  mkdir -p "$build"
  cp -r fuzz/SharpSeek.Fuzz/bin/Release/net10.0 "$bin"
  dotnet tool restore >/dev/null
  # Only our parsers carry coverage probes: instrumenting the BCL would drown afl's map in JSON-reader edges.
  # Replays (hangs below, the tests) run the uninstrumented build: instrumented code needs afl's shared memory.
  for asm in Formats Checkpoints Tokenizer Inference Server; do
    dotnet tool run sharpfuzz "$bin/SharpSeek.$asm.dll" >/dev/null
  done
  touch "$bin/.instrumented"
fi

if [ "$target" = all ]; then
  status=0
  for t in $(dotnet "$replay" list | awk '{print $1}'); do
    FUZZ_SKIP_BUILD=1 "$0" "$t" "$seconds" || status=1
  done
  exit $status
fi

[ -d "fuzz/corpus/$target" ] || { echo "no corpus folder fuzz/corpus/$target" >&2; exit 2; }
out=fuzz/.findings/$target
rm -rf "$out"
mkdir -p "$out"

if [ -n "${FUZZ_EXECS:-}" ]; then limit=(-E "$FUZZ_EXECS"); else limit=(-V "$seconds"); fi
# The target's tokens (JSON keys, magic numbers) for afl to splice in: byte flips alone rarely spell "tool_choice".
dict=(); [ -f "fuzz/dict/$target.dict" ] && dict=(-x "fuzz/dict/$target.dict")
# The GC heap limit turns a runaway allocation into an OutOfMemoryException (a crash) at 1 GiB instead of swapping;
# the per-input allocation bound (FuzzHarness.AllocationBound) catches smaller ones. -t: milliseconds per input,
# fixed, not auto-scaled: afl's auto-scaled timeout (tens of ms) fires on a JIT or GC pause, and a timeout kills the
# whole .NET process, which is also SharpFuzz's fork server.
run_afl() {
  rm -rf "$out/default"
  AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1 \
  AFL_FORKSRV_INIT_TMOUT=30000 DOTNET_GCHeapHardLimit=0x40000000 DOTNET_TieredPGO=0 \
    afl-fuzz -i "fuzz/corpus/$target" -o "$out" "${limit[@]}" "${dict[@]}" -t 5000 -m none -- "$bin/SharpSeek.Fuzz" "$target" >"$out/afl.log" 2>&1
}
started=$(date +%s)
attempt=1
until run_afl; do
  # Now and then (on a loaded machine) afl sees an empty coverage map for the very first input and refuses to
  # start; that says nothing about the target, so it is retried. Any other failure stops the run.
  if [ $attempt -lt 3 ] && grep -q "No instrumentation detected" "$out/afl.log"; then
    attempt=$((attempt + 1)); echo "$target: afl-fuzz saw no coverage on its first input; retrying ($attempt/3)" >&2; continue
  fi
  echo "afl-fuzz failed for $target; last lines of $out/afl.log:" >&2; tail -20 "$out/afl.log" >&2; exit 2
done
elapsed=$(( $(date +%s) - started ))

stats=$out/default/fuzzer_stats
stat() { awk -F' *: *' -v k="$1" '$1 == k {print $2}' "$stats"; }
crashes=$(find "$out/default/crashes" -type f ! -name README.txt 2>/dev/null | wc -l)
hangs=0
for h in $(find "$out/default/hangs" -type f 2>/dev/null); do
  # afl's timeout is per input on a busy machine; a hang only counts if the input still takes over 10 s alone.
  if ! timeout 10 dotnet "$replay" "$target" "$h" >/dev/null 2>&1; then hangs=$((hangs + 1)); echo "hang: $h"; fi
done
echo "$target: $(stat execs_done) execs in ${elapsed}s ($(stat execs_per_sec)/s), $(stat corpus_count) corpus entries, edges $(stat edges_found), crashes $crashes, hangs $hangs"
if [ "$crashes" -gt 0 ]; then find "$out/default/crashes" -type f ! -name README.txt | sed 's/^/crash: /'; fi
[ "$crashes" -eq 0 ] && [ "$hangs" -eq 0 ]
