#!/usr/bin/env bash
# Document context on the GPU machine: the quickstart recipe on all of eng.train (1 epoch,
# full fine-tune of SmolLM2-135M), scored on the first 1,000 sentences of eng.testa and all of eng.testb, with
# format.context 0 and 1, both runs at once on the one GPU (same data, seed and steps).
# Run through ../shared/gpu/stage2.sh after its stage 1:
#   bash .gpu/bin/stage2.sh bash benchmarks/gpu_context.sh
# Extra arguments are more --set overrides for both runs (a dry run here: --set data.limit=...).
# Logs, metrics, reports and timings go to $OUT as k0.* and k1.*; runs stop at RUN_LIMIT_S.
set -uo pipefail
out=${OUT:-/tmp/gpu-context}; mkdir -p "$out"
runs=${RUNS_DIR:-/root/runs}
limit=${RUN_LIMIT_S:-510}
threads=${THREADS:-8}
common=(
  --set "data.limit=${LIMITS:-{dev: 1000\}}" --set trainer.options.per_device_batch_size=32 --set trainer.options.max_length=1024
  --set trainer.options.save_steps=100000 --set trainer.options.logging_steps=50 --set trainer.options.threads="$threads"
  --set predictor.options.batch_size=64 --set predictor.options.threads="$threads" --set predictor.options.progress=false
)
{ date -u; nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null; python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"; } > "$out/env.txt" 2>&1
nvidia-smi dmon -s u -d 5 > "$out/dmon.txt" 2>&1 & dmon=$!
pids=()
for k in ${KS:-0 1}; do
  ( start=$(date +%s)
    timeout "$limit" python3 -m ner_toolkit run recipes/quickstart.yaml "${common[@]}" --set format.context=$k \
      --set output_dir="$runs/k$k" "$@"
    echo "exit $? after $(( $(date +%s) - start )) s" ) > "$out/k$k.log" 2>&1 &
  pids+=($!)
done
wait "${pids[@]}"
kill "$dmon" 2>/dev/null
for k in ${KS:-0 1}; do
  [ -d "$runs/k$k" ] && tar -C "$runs/k$k" -czf "$out/k$k.tgz" --exclude=./model/full --exclude=./model/adapter \
    --exclude=./model/checkpoints --exclude=./data .
done
ls -la "$out"; tail -n 3 "$out"/k*.log
