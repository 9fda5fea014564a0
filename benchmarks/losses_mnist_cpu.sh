#!/usr/bin/env bash
# The published losses leaderboard: benchmarks/suites/losses-mnist-cpu.yaml on the MNIST test
# split from ../shared; report in benchmarks/results/losses-mnist-cpu/. About 20-40 minutes on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mnist="${MNIST:-$here/../../shared/datasets/mnist}"
[ -f "$mnist/t10k-images-idx3-ubyte.gz" ] || { echo "MNIST test split not found under $mnist (set MNIST=DIR)" >&2; exit 1; }
bash "$here/suite_cpu.sh" losses-mnist-cpu --set "data.root=$mnist"
