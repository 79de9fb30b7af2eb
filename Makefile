# Two commands for a new machine: `make run` opens the app, `make test` runs the tests.
# Each creates .venv and installs the project on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-engine bench fuzz train-check gpu-check clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch/torchvision first, by name: the machine's pip constraints pick the cached wheels.
	$(BIN)/python -m pip install --quiet torch torchvision
	$(BIN)/python -m pip install --quiet -e '.[test,onnx]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python main.py

test: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m mypy
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

test-engine: $(STAMP)
	$(BIN)/python -m pytest tests/engine

# The file fuzzer at full length: 10,000 mutated design files (the suite runs 300), each loaded,
# analysed, saved and loaded again; plus random text and JSON. Then 3,000 random designs from the
# whole catalog (the suite runs 300), each analysed and run by torch: the two must agree. Then every
# torchvision CNN classifier imported and compared with torchvision (the suite imports one per family).
fuzz: $(STAMP)
	ND_FUZZ_FILES=10000 $(BIN)/python -m pytest -q tests/engine/test_properties.py \
		-k "mutated or random_text or random_json"
	ND_FUZZ_DESIGNS=3000 $(BIN)/python -m pytest -q tests/engine/test_catalog_fuzz.py -k random_designs
	ND_IMPORT_ALL=1 $(BIN)/python -m pytest -q tests/engine/test_import_torchvision.py -k imports_exactly

bench: $(STAMP)
	for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# LeNet-5 on the bundled digits: prints time and validation accuracy (targets: ≥ 97 % in ≤ 60 s).
train-check: $(STAMP)
	$(BIN)/python -m engine.training.check

# For a machine with a GPU: short training with AMP and channels_last, stop and resume, export, and
# a 2-process DDP run with 2 GPUs; prints what it verified and skipped. No GPU: a CPU smoke test, exit 0.
gpu-check: $(STAMP)
	$(BIN)/python -m engine.training.gpu_check

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
