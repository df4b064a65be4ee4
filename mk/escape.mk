# Allowed roots (issue 16): a real `semsearch serve` is asked to index outside its roots, statically (.., absolute
# paths, symlinks out, a re-pointed symlinked root) and while racing (a subfolder swapped for a symlink during the
# walk, the root re-pointed while jobs start); prints attempts, refusals and accepted escapes (must be 0).
ESCAPE_RACE_JOBS ?= 3

.PHONY: escape-test
escape-test: install  ## try static and racing escapes out of the allowed roots of a real server; none may succeed
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/escape_test.py --race-jobs $(ESCAPE_RACE_JOBS)
