# Tweedie — the two commands of the README:
#   make demo   installs the system libraries if missing, builds in release mode, runs the demo
#   make test   runs the test suite
#   make fuzz   runs libFuzzer on the .npy, .npz, PNG, JSON-model, schedule-name, sampling-request, molecular-file and explorer-view parsers (FUZZ_SECONDS each)
#   make test-slurm  runs tweedie compare --slurm against a local single-node Slurm it starts and stops
#   make test-python installs the Python package (python/) in a virtual environment and runs its tests
#   make test-python-torch  the same with PyTorch, k-diffusion and diffusers (a 6 GB environment)
#   make test-docs   runs every `$ tweedie …` command shown in README.md and docs/*.md
#   make lint        checks Sources/ against the project's style (lines ≤ 120 characters; .editorconfig)
#   make test-explore  the page of `tweedie explore` in headless Chromium (Selenium), against the CLI's numbers
#   make explore     serves the explorer of ring8 at http://127.0.0.1:8765/ (release build)
#   make bench-dataset  EDM's Heun on a 50 000-item CIFAR-shaped data set: Tweedie against numpy, torch and faiss
SWIFT ?= swift
APT_PACKAGES = libopenblas-dev liblapacke-dev pkg-config
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test build deps bench bench-python bench-peers bench-dataset clean fuzz test-slurm test-python test-python-torch test-docs lint \
	test-explore explore bench-explore

deps:
	@if ! pkg-config --exists openblas 2>/dev/null || [ ! -f /usr/include/lapacke.h ]; then \
		echo "Installing $(APT_PACKAGES) with apt-get"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); \
	fi

build: deps
	$(SWIFT) build -c release --product tweedie

demo: build
	@B=$$($(SWIFT) build -c release --show-bin-path)/tweedie; \
	echo "\$$ tweedie model list"; $$B model list; echo; \
	echo "\$$ tweedie model show ring8"; $$B model show ring8; echo; \
	mkdir -p out; \
	echo "\$$ tweedie oracle --model ring8 --x examples/ring8-points.npy --t 0.3 --schedule vp-cosine --out out/demo-oracle.npz"; \
	$$B oracle --model ring8 --x examples/ring8-points.npy --t 0.3 --schedule vp-cosine --out out/demo-oracle.npz; echo; \
	echo "\$$ tweedie sample --model ring8 --schedule vp-linear --sampler heun --steps 18 --count 2000 --seed 1 --out out/demo-samples.npy --plot out/demo.svg"; \
	$$B sample --model ring8 --schedule vp-linear --sampler heun --steps 18 --count 2000 --seed 1 --out out/demo-samples.npy --plot out/demo.svg && \
	echo && echo "The plot of the samples over the density of ring8 is out/demo.svg (open it in a browser)."

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# The commands the README and the docs pages show, run in a scratch directory with the debug CLI:
# each must still run (or fail with the one-line error the page shows).
test-docs: deps
	$(SWIFT) build --product tweedie
	TWEEDIE_CLI=$$($(SWIFT) build --show-bin-path)/tweedie python3 scripts/check_docs.py

# The style Sources/ follows (scripts/lint.sh, .editorconfig): lines of at most 120 characters, no
# tabs, no trailing white space, a final newline.
lint:
	bash scripts/lint.sh

# libFuzzer targets (fuzz/Package.swift), built with ASan and coverage; each runs for FUZZ_SECONDS
# over its corpus in fuzz/corpus/<target>, which grows as it finds new paths. A crash, a trap, an
# ASan error or a hang (> 10 s on one input) fails the target and leaves the input in
# fuzz/artifacts/. Leak detection is off: ZIPFoundation leaks the C path of each archive it opens
# (FileManager.fileSystemRepresentation), which says nothing about the parsers.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS = FuzzNPY FuzzNPZ FuzzJSON FuzzSchedule FuzzRequest FuzzPNG FuzzMolecules FuzzExplore
FUZZ_FLAGS = --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp

fuzz: deps
	cd fuzz && $(SWIFT) build --build-path ../.build-fuzz $(FUZZ_FLAGS)
	@mkdir -p fuzz/artifacts
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$t; \
		echo "fuzzing $$t for $(FUZZ_SECONDS) s"; \
		if ! ASAN_OPTIONS=detect_leaks=0 .build-fuzz/debug/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 -detect_leaks=0 \
			-artifact_prefix=fuzz/artifacts/$$t- fuzz/corpus/$$t > .build-fuzz/$$t.log 2>&1; then \
			tail -n 40 .build-fuzz/$$t.log; echo "fuzz: $$t failed; the input is in fuzz/artifacts/"; exit 1; \
		fi; \
		grep -E "^#[0-9]+[[:space:]]+DONE" .build-fuzz/$$t.log | tail -n 1; \
	done

# A local Slurm (installed from Debian's packages if missing), a 3-shard study with --wait, a
# resubmission, a failing shard and a missing sbatch; the daemons are stopped whatever happens.
test-slurm: deps
	$(SWIFT) build --product tweedie
	bash scripts/test-slurm.sh

# The explorer's page: `tweedie explore --model ring8` (any 2-D model; --project i,j for others).
EXPLORE_MODEL ?= ring8
explore: build
	$$($(SWIFT) build -c release --show-bin-path)/tweedie explore --model $(EXPLORE_MODEL)

# The explorer in a real headless browser: Chromium and its driver from Debian's packages (installed
# if missing), Selenium from PyPI (python/requirements-browser.txt) in .build/browser-venv; the test
# loads the served page and a static copy, moves the sliders, and compares every number shown with the
# CLI's `explore --state` JSON. Screenshots go to .build/artifacts/.
BROWSER_VENV = .build/browser-venv
test-explore: deps
	$(SWIFT) build --product tweedie
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		echo "Installing chromium and chromium-driver with apt-get"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver; }
	@python3 -c "import ensurepip" 2>/dev/null || { echo "Installing python3-venv with apt-get"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-venv; }
	python3 -m venv $(BROWSER_VENV)
	$(BROWSER_VENV)/bin/pip install -q --upgrade pip
	$(BROWSER_VENV)/bin/pip install -q -r python/requirements-browser.txt
	cd python && TWEEDIE_CLI=$$(cd .. && $(SWIFT) build --show-bin-path)/tweedie \
		TWEEDIE_ARTIFACTS=$(CURDIR)/.build/artifacts ../$(BROWSER_VENV)/bin/python -m pytest -q tests_browser

# The explorer's response times (a t-slider move, a step-count move) on a 64-component model, beside
# the 100 ms a slider needs: benchmarks/explore_latency.py against the release CLI.
bench-explore: build
	python3 benchmarks/explore_latency.py --tweedie $$($(SWIFT) build -c release --show-bin-path)/tweedie

# The Python package in a fresh virtual environment (.build/python-venv): `pip install ./python[test]`
# builds libTweedieC.so (release, static Swift runtime) and bundles it; pytest then runs its tests
# against the command-line tool, scikit-learn and SciPy.
PYTHON_VENV = .build/python-venv
test-python: deps
	$(SWIFT) build --product tweedie
	@python3 -c "import ensurepip" 2>/dev/null || { echo "Installing python3-venv with apt-get"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-venv; }
	python3 -m venv $(PYTHON_VENV)
	$(PYTHON_VENV)/bin/pip install -q --upgrade pip
	$(PYTHON_VENV)/bin/pip install -q "./python[test]"
	cd python && TWEEDIE_CLI=$$(cd .. && $(SWIFT) build --show-bin-path)/tweedie ../$(PYTHON_VENV)/bin/python -m pytest -q tests
	@# The wheel installs and runs where Swift is absent (the Swift runtime is linked into the library).
	rm -rf .build/wheel .build/wheel-venv
	TWEEDIE_PREBUILT_LIBRARY=$(CURDIR)/.build-python/release/libTweedieC.so $(PYTHON_VENV)/bin/pip wheel -q --no-deps -w .build/wheel ./python
	python3 -m venv .build/wheel-venv
	.build/wheel-venv/bin/pip install -q .build/wheel/*.whl
	cd /tmp && env -i PATH=/usr/bin:/bin HOME=/tmp $(CURDIR)/.build/wheel-venv/bin/python -c \
		"import shutil, tweedie; assert shutil.which('swift') is None; m = tweedie.Model.builtin('ring8'); \
		assert tweedie.sample(m, sampler='heun', schedule='vp-linear', steps=5, count=3).shape == (3, 2); \
		print('wheel without Swift on the PATH: ok')"

# The torch adapters against the real clients: k-diffusion's samplers and diffusers' scheduler
# loops on the exact oracle, a torch network through Tweedie's samplers. Reuses the library that
# test-python built; the clients are pinned in python/requirements-torch.txt.
TORCH_VENV = .build/torch-venv
test-python-torch: test-python
	python3 -m venv $(TORCH_VENV)
	$(TORCH_VENV)/bin/pip install -q --upgrade pip
	$(TORCH_VENV)/bin/pip install -q -r python/requirements-torch.txt
	$(TORCH_VENV)/bin/pip install -q --no-deps k-diffusion==0.1.1.post1
	TWEEDIE_PREBUILT_LIBRARY=$(CURDIR)/.build-python/release/libTweedieC.so $(TORCH_VENV)/bin/pip install -q --force-reinstall --no-deps ./python
	cd python && ../$(TORCH_VENV)/bin/python -m pytest -q tests_torch

# The Python package's timings side by side (oracle.denoise per call; k-diffusion's sample_heun on
# KDiffusionDenoiser against a plain torch mixture denoiser): benchmarks/python_bench.py.
bench-python: test-python-torch
	cd python && ../$(TORCH_VENV)/bin/python ../benchmarks/python_bench.py

# Tweedie next to numpy, JAX (benchmarks/requirements-peers.txt) and k-diffusion on the workloads
# of BENCHMARKS.md, in one run: benchmarks/peers.py.
bench-peers: test-python-torch
	$(TORCH_VENV)/bin/pip install -q -r benchmarks/requirements-peers.txt
	cd python && ../$(TORCH_VENV)/bin/python ../benchmarks/peers.py

# EDM's Heun sampler (18 steps, 256 samples) on the ideal denoiser of two CIFAR-10-shaped data sets
# of 50 000 items (patches of scikit-learn's sample photographs; random pixels): the release CLI
# exact and pruned against numpy float64, torch float32 cdist + softmax and faiss top-k, from the
# same starting noise, in one run: benchmarks/dataset_peers.py (--quick for a short test); then
# the cap on what any pruning could save on the same trajectories: benchmarks/dataset_pruning_cap.py.
bench-dataset: deps test-python-torch
	$(SWIFT) build -c release --product tweedie
	$(TORCH_VENV)/bin/pip install -q scikit-learn faiss-cpu
	$(TORCH_VENV)/bin/python benchmarks/dataset_peers.py
	$(TORCH_VENV)/bin/python benchmarks/dataset_pruning_cap.py

bench: deps
	$(SWIFT) run -c release tweedie-benchmarks

clean:
	rm -rf .build .build-fuzz out
