#!/usr/bin/env bash
# The GPU check (issue #26), the part that runs on the lent GPU machine, after `npm run gpu:check` filled .gpu-check/
# here: unpack node, build the addon against python3's CUDA torch, run the CUDA tests, time this package and PyTorch
# eager on a base-size model in float32/float16/bfloat16 at batch 1-16 of 10 s items, write $OUT/gpu-check.md,
# $OUT/gpu-check.json and $OUT/log.txt. Where python3's torch sees no CUDA device it runs the same stages as a
# labelled smoke run (tiny model, CPU, 1 s items) so that the pipeline can be checked on any machine.
#
# Time: every stage runs under `timeout`, limited so that the later stages keep their share of GPU_CHECK_BUDGET_S
# (480 s = 8 minutes); a stage that would start with less than 5 s left is skipped, the sweeps stop starting cases
# near their limit and report the rest as skipped, and the report is always written.
# Environment: OUT (default ./gpu-check-out), PYTHON (default python3), GPU_CHECK_BUDGET_S, GPU_CHECK_WORK (scratch).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${OUT:-$ROOT/gpu-check-out}
PY=${PYTHON:-python3}
BUDGET=${GPU_CHECK_BUDGET_S:-480}
WORK=${GPU_CHECK_WORK:-$(mktemp -d /tmp/gpu-check.XXXXXX)}
START=$(date +%s)
JS=$ROOT/.gpu-check/gpu-check.js
STAGES=$WORK/stages.tsv
FAILED=0
mkdir -p "$OUT" "$WORK/bin"
: > "$STAGES"
exec > >(tee "$OUT/log.txt") 2>&1
TEE=$!
# So that log.txt is complete when the device tool collects $OUT: close our end of the pipe, let tee finish.
trap 'exec >&- 2>&-; wait $TEE' EXIT

left() { echo $(( START + BUDGET - $(date +%s) )); }

# stage NAME RESERVE CMD...: runs CMD under a limit that leaves RESERVE seconds of the budget to the stages after it.
stage() {
  local name=$1 reserve=$2 limit rc t0
  shift 2
  limit=$(( $(left) - reserve ))
  if (( limit < 5 )); then
    echo "== $name: skipped, the time budget is spent"
    printf '%s\t0\tskipped\n' "$name" >> "$STAGES"
    FAILED=1
    return 1
  fi
  echo "== $name (limit ${limit} s; $(( $(date +%s) - START )) s into the check)"
  t0=$(date +%s)
  # bash -c: `timeout` runs programs, and some stages are the functions below (exported with export -f).
  STAGE_LIMIT=$limit timeout -k 5 "$limit" bash -c '"$@"' stage "$@"
  rc=$?
  printf '%s\t%s\t%s\n' "$name" $(( $(date +%s) - t0 )) "$rc" >> "$STAGES"
  (( rc == 0 )) || FAILED=1
  return $rc
}

unpack_node() {
  "$PY" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
    "$ROOT/.gpu-check/node.xz" "$WORK/bin/node" && chmod +x "$WORK/bin/node" && node --version
}

# The sweeps get a deadline 15 s inside their stage limit, so that they write what they measured before `timeout`.
sweep_ours() {
  node "$JS" sweep "$WORK/model" "$WORK/ours.json" $SWEEP --deadline $(( ($(date +%s) + STAGE_LIMIT - 15) * 1000 ))
}
sweep_torch() {
  "$PY" scripts/gpu-check/torch_sweep.py sweep "$WORK/model" "$WORK/torch.json" $SWEEP --deadline $(( $(date +%s) + STAGE_LIMIT - 15 ))
}

[ -f "$JS" ] && [ -f "$ROOT/.gpu-check/node.xz" ] || { echo "no .gpu-check/ here: run \`npm run gpu:check\` first and carry .gpu-check"; exit 2; }
export -f unpack_node sweep_ours sweep_torch
# A CUDA torch's CMake files enable the CUDA language (FindCUDA, then the toolkit's nvcc) though our sources hold no
# CUDA code; nvcc may sit outside PATH, and an arch list (H100/H200: 9.0) spares the GPU detection that CMake runs.
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH=$PATH:/usr/local/cuda/bin; fi
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
command -v nvidia-smi >/dev/null && nvidia-smi -L
command -v nvcc >/dev/null && nvcc --version | tail -n 2
export PATH=$WORK/bin:$PATH PYTHONUNBUFFERED=1 ROOT WORK PY JS
TORCH=$("$PY" -c 'import sys, torch; print(sys.executable, "torch", torch.__version__, "cuda" if torch.cuda.is_available() else "no-cuda")')
echo "gpu-check: budget ${BUDGET} s, scratch $WORK, python $TORCH"
# SWEEP: the options both sweeps take, word-split on purpose where they are used.
if [[ $TORCH == *" cuda" ]]; then
  LAYOUT=base
  SWEEP="--device cuda --dtypes float32,float16,bfloat16 --batches 1,2,4,8,16 --seconds 10 --warmup 3 --reps 5"
  LABEL="CUDA sweep: base-size model (wav2vec2-base layout, random weights), 10 s items, 3 warm-ups + 5 timed runs per case."
else
  LAYOUT=tiny
  SWEEP="--device cpu --dtypes float32,float16,bfloat16 --batches 1,2 --seconds 1 --warmup 1 --reps 2"
  LABEL="SMOKE RUN, NOT A MEASUREMENT: python3's torch sees no CUDA device, so the sweep ran the tiny model on the CPU with 1 s items to show that every stage works."
fi
export SWEEP
echo "$LABEL"

# Reserves: the seconds kept for the stages after each one, from what each needs on the GPU machine with room to
# spare (tests 60, model 30, each sweep 60-80, report 10); the build, the least predictable, gets the rest (~230 s).
stage unpack-node 420 unpack_node || exit 2
stage build 240 env WAV2VEC2_NODE_HEADERS="$ROOT/.gpu-check/headers" PYTHON="$PY" node scripts/install.js --build-only
stage cuda-tests 180 node "$JS" tests "$WORK/tests.json"
stage make-model 150 "$PY" scripts/gpu-check/torch_sweep.py make "$LAYOUT" "$WORK/model"
stage sweep-ours 70 sweep_ours
stage sweep-torch 10 sweep_torch
# The report runs whatever the budget says: a partial table is what tells the next person what to fix.
timeout 30 node "$JS" report --label "$LABEL" --ours "$WORK/ours.json" --torch "$WORK/torch.json" \
  --tests "$WORK/tests.json" --stages "$STAGES" --out "$OUT" || FAILED=1
echo "gpu-check: $(( $(date +%s) - START )) s in all; $([ $FAILED = 0 ] && echo 'every stage passed' || echo 'a stage failed or was skipped: see above')"
exit $FAILED
