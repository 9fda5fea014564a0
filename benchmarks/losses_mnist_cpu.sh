#!/usr/bin/env bash
# The published losses leaderboard: benchmarks/suites/losses-mnist-cpu.yaml on the MNIST test
# split from ../shared, runs and MLflow store in a scratch folder, the report (Markdown, CSV,
# HTML, PNGs) copied to benchmarks/results/losses-mnist-cpu/. About 20-40 minutes on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mnist="${MNIST:-$here/../../shared/datasets/mnist}"
scratch="${SCRATCH:-$(mktemp -d)}"
dest="$here/results/losses-mnist-cpu"
[ -f "$mnist/t10k-images-idx3-ubyte.gz" ] || { echo "MNIST test split not found under $mnist (set MNIST=DIR)" >&2; exit 1; }
export MLFLOW_TRACKING_URI="sqlite:///$scratch/mlflow.db"
"${PY:-python}" -m ganbench.cli bench "$here/suites/losses-mnist-cpu.yaml" --set "data.root=$mnist" \
    --out "$scratch/runs" --parallel "${PARALLEL:-2}" | tee "$scratch/bench.out"
mkdir -p "$dest/samples"
cp "$scratch"/runs/bench/losses-mnist-cpu/*.{md,csv,html,png} "$dest/"
cp "$scratch"/runs/bench/losses-mnist-cpu/samples/*.png "$dest/samples/" 2>/dev/null || true
{ echo "machine: $(uname -m), $(nproc) cores, $("${PY:-python}" -c 'import torch; print("torch", torch.__version__, "GPU" if torch.cuda.is_available() else "CPU only")')"
  echo "date: $(date -u +%F)"; tail -1 "$scratch/bench.out"; } > "$dest/run.txt"
echo "report: $dest/leaderboard.md"
