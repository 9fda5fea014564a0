# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each creates the virtualenv (.venv) on first use; later runs reuse it.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m ganbench.demo

test: $(STAMP)
	$(PY) -m pytest -q -ra

# All measured claims in the README (about 25 minutes on 2 CPU cores).
bench: $(STAMP)
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/fid_throughput.py
	$(PY) benchmarks/mnist_preset.py
	$(PY) benchmarks/tune_digits.py

clean:
	rm -rf $(VENV) runs mlartifacts mlflow.db demo
