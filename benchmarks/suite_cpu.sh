#!/usr/bin/env bash
# Run one suite of benchmarks/suites/ and publish its report: runs and MLflow store in a scratch
# folder, the report (Markdown, CSV, HTML, PNGs, best grids) copied to benchmarks/results/NAME/
# with the machine in run.txt.   bash benchmarks/suite_cpu.sh NAME [ganbench bench options...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
name="$1"; shift
scratch="${SCRATCH:-$(mktemp -d)}"
dest="$here/results/$name"
export MLFLOW_TRACKING_URI="sqlite:///$scratch/mlflow.db"
"${PY:-python}" -m ganbench.cli bench "$here/suites/$name.yaml" --out "$scratch/runs" \
    --parallel "${PARALLEL:-2}" "$@" | tee "$scratch/$name.out"
rm -rf "$dest"  # a report of its own: nothing left from an earlier definition of the suite
mkdir -p "$dest/samples"
cp "$scratch/runs/bench/$name"/*.{md,csv,html,png} "$dest/"
cp "$scratch/runs/bench/$name"/samples/*.png "$dest/samples/" 2>/dev/null || true
{ echo "machine: $(uname -m), $(nproc) cores, $("${PY:-python}" -c 'import torch; print("torch", torch.__version__, "GPU" if torch.cuda.is_available() else "CPU only")')"
  echo "date: $(date -u +%F)"; echo "command: ganbench bench $name.yaml $*"; tail -1 "$scratch/$name.out"; } > "$dest/run.txt"
echo "report: $dest/leaderboard.md"
