# timeslice: `make demo` renders the demo clip, `make test` runs the tests.
CARGO ?= cargo
DEMO_OUT ?= demo-out

.PHONY: demo test bench bench-peer deps build lint

deps:
	@./scripts/install-deps.sh

build: deps
	$(CARGO) build --release

demo: build
	./target/release/timeslice demo --out $(DEMO_OUT)

test: deps
	$(CARGO) test --all-targets
	$(CARGO) test --doc

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

bench: deps
	$(CARGO) bench

bench-peer: build
	"$$(./benches/peer/venv.sh)" benches/peer/metrics_check.py
	"$$(./benches/peer/venv.sh)" benches/peer/flow_peer.py
	"$$(./benches/peer/venv.sh)" benches/peer/calib_board_peer.py
