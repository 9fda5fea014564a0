#!/usr/bin/env bash
# Every GPU path once, in one short script (target: under 8 minutes on one H100/H200), figures
# under benchmarks/results/gpu/. Run it on a machine with a CUDA GPU after the README's set-up:
#
#   bash benchmarks/gpu_check.sh            # PY=.venv/bin/python by default
#
# 1. the GPU-marked tests: bf16 autocast, NCCL DDP under Ray Train (2 workers when 2 GPUs are
#    present), DALI mixed (GPU) decoding against the torch loader;
# 2. onnxruntime's CUDAExecutionProvider, if this onnxruntime has it (onnxruntime-gpu);
# 3. benchmarks/train_throughput.py on the GPU: ganbench's loop against the textbook loop;
# 4. benchmarks/lucic_mnist.py: the Lucic-protocol Inception FID of mnist-dcgan (needs the
#    MNIST test split in ../shared/datasets/mnist; skipped without it).
# Each step's output is kept; a failing step is reported and the others still run.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
out="benchmarks/results/gpu"
mkdir -p "$out"
status=0
step() {  # step NAME TIMEOUT_S CMD...: run, log to $out/NAME.txt, remember a failure
    local name=$1 limit=$2; shift 2
    echo "== $name"
    if timeout "$limit" "$@" > "$out/$name.txt" 2>&1; then echo "   ok"; else echo "   FAILED (see $out/$name.txt)"; status=1; fi
    tail -3 "$out/$name.txt"
}
if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "no CUDA device visible to torch: nothing to check here" >&2; exit 2
fi
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; "$PY" -c \
  "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'gpus', torch.cuda.device_count())"
  date -u; } > "$out/machine.txt" 2>&1
cat "$out/machine.txt"
step gpu_tests 240 "$PY" -m pytest -q -p no:cacheprovider -m gpu -rs tests/test_gpu.py tests/test_data_loaders.py
step onnxruntime_cuda 60 "$PY" -c "
import onnxruntime as ort
p = ort.get_available_providers(); print('providers:', p)
assert 'CUDAExecutionProvider' in p, 'this onnxruntime has no CUDAExecutionProvider (pip install onnxruntime-gpu)'"
step train_throughput 150 "$PY" benchmarks/train_throughput.py --device cuda --rounds 10 --steps 50 --batch 256 --res 64
if [ -f ../shared/datasets/mnist/t10k-images-idx3-ubyte.gz ]; then
    step lucic_mnist 240 "$PY" benchmarks/lucic_mnist.py --out "$out"
else
    echo "== lucic_mnist: skipped (no ../shared/datasets/mnist)"
fi
exit $status
