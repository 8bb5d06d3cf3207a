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
  STAGE_LIMIT=$limit timeout -k 5 "$limit" "$@"
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
  node "$JS" sweep "$WORK/model" "$WORK/ours.json" "${SWEEP[@]}" --deadline $(( ($(date +%s) + STAGE_LIMIT - 15) * 1000 ))
}
sweep_torch() {
  "$PY" scripts/gpu-check/torch_sweep.py sweep "$WORK/model" "$WORK/torch.json" "${SWEEP[@]}" --deadline $(( $(date +%s) + STAGE_LIMIT - 15 ))
}

[ -f "$JS" ] && [ -f "$ROOT/.gpu-check/node.xz" ] || { echo "no .gpu-check/ here: run \`npm run gpu:check\` first and carry .gpu-check"; exit 2; }
export PATH=$WORK/bin:$PATH PYTHONUNBUFFERED=1
echo "gpu-check: budget ${BUDGET} s, scratch $WORK, python $("$PY" -c 'import sys, torch; print(sys.executable, "torch", torch.__version__)')"
if "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  LAYOUT=base
  SWEEP=(--device cuda --dtypes float32,float16,bfloat16 --batches 1,2,4,8,16 --seconds 10 --warmup 3 --reps 5)
  LABEL="CUDA sweep: base-size model (wav2vec2-base layout, random weights), 10 s items, 3 warm-ups + 5 timed runs per case."
else
  LAYOUT=tiny
  SWEEP=(--device cpu --dtypes float32,float16,bfloat16 --batches 1,2 --seconds 1 --warmup 1 --reps 2)
  LABEL="SMOKE RUN, NOT A MEASUREMENT: python3's torch sees no CUDA device, so the sweep ran the tiny model on the CPU with 1 s items to show that every stage works."
fi
echo "$LABEL"

# Reserves: what the stages after each one need at most (tests 90, model 45, each sweep 90, report 10).
stage unpack-node 420 unpack_node || exit 2
stage build 320 env WAV2VEC2_NODE_HEADERS="$ROOT/.gpu-check/headers" PYTHON="$PY" node scripts/install.js --build-only
stage cuda-tests 230 node "$JS" tests "$WORK/tests.json"
stage make-model 190 "$PY" scripts/gpu-check/torch_sweep.py make "$LAYOUT" "$WORK/model"
stage sweep-ours 100 sweep_ours
stage sweep-torch 10 sweep_torch
# The report runs whatever the budget says: a partial table is what tells the next person what to fix.
timeout 30 node "$JS" report --label "$LABEL" --ours "$WORK/ours.json" --torch "$WORK/torch.json" \
  --tests "$WORK/tests.json" --stages "$STAGES" --out "$OUT" || FAILED=1
echo "gpu-check: $(( $(date +%s) - START )) s in all; $([ $FAILED = 0 ] && echo 'every stage passed' || echo 'a stage failed or was skipped: see above')"
exit $FAILED
