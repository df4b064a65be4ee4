# Crash safety (issue 16): SIGKILL a real `semsearch index` at CRASH_KILLS random instants over a generated
# corpus of CRASH_FILES files, then compare integrity, chunks, vectors and top-10 results with an
# uninterrupted run. A short version runs in the test suite (tests/e2e/test_crash_test.py, marked slow).
CRASH_FILES ?= 1000
CRASH_KILLS ?= 20
CRASH_SEED ?= 1

.PHONY: crash-test
crash-test: install  ## SIGKILL the indexer CRASH_KILLS (20) times over CRASH_FILES (1000) files; nothing may be lost
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/crash_test.py --files $(CRASH_FILES) --kills $(CRASH_KILLS) --seed $(CRASH_SEED)
