# Tweedie — the two commands of the README:
#   make demo   installs the system libraries if missing, builds in release mode, runs the demo
#   make test   runs the test suite
SWIFT ?= swift
APT_PACKAGES = libopenblas-dev liblapacke-dev pkg-config
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test build deps bench clean

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

bench: deps
	$(SWIFT) run -c release tweedie-benchmarks

clean:
	rm -rf .build out
