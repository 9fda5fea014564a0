# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each creates the virtualenv (.venv) on first use; later runs reuse it.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m ganbench.demo

# What CI runs (.ci/run). Tests marked `slow` (minutes each) are left out; test-all runs them.
# --durations lists the slowest tests, so a CI log shows where the suite's time goes.
test: $(STAMP)
	$(PY) -m pytest -q -ra -m "not slow" --durations=25

test-all: $(STAMP)
	$(PY) -m pytest -q -ra

# All measured claims in the README (over half an hour on 2 CPU cores).
bench: $(STAMP)
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/fid_throughput.py
	$(PY) benchmarks/mnist_preset.py
	$(PY) benchmarks/tune_digits.py
	$(PY) benchmarks/serve_latency.py
	$(PY) benchmarks/serve_failover.py
	$(PY) benchmarks/train_scaling.py
	$(PY) benchmarks/run_overhead.py
	$(PY) benchmarks/folder_cache.py
	$(PY) benchmarks/lucic_mnist.py
	PY=$(PY) bash benchmarks/losses_mnist_cpu.sh
	PY=$(PY) bash benchmarks/tricks_cpu.sh

clean:
	rm -rf $(VENV) runs mlartifacts mlflow.db demo
