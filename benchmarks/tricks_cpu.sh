#!/usr/bin/env bash
# EMA and DiffAugment measured side by side (issue 12): EMA on mnist-dcgan's own budget on the
# MNIST test split, DiffAugment on a 2,000-digit labelled folder made from it. Reports in
# benchmarks/results/tricks-{mnist,folder}-cpu/. About an hour on 2 idle cores.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mnist="${MNIST:-$here/../../shared/datasets/mnist}"
[ -f "$mnist/t10k-images-idx3-ubyte.gz" ] || { echo "MNIST test split not found under $mnist (set MNIST=DIR)" >&2; exit 1; }
folder="$(mktemp -d)/digits2k"
"${PY:-python}" "$here/digit_folder.py" "$folder" --per-class 200 --mnist "$mnist"
bash "$here/suite_cpu.sh" tricks-mnist-cpu --set "data.root=$mnist"
bash "$here/suite_cpu.sh" tricks-folder-cpu --set "data.name=folder:$folder"
