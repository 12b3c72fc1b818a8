# Shortcuts; the commands themselves live in scripts/dev.py.
.PHONY: run test bench
run:
	python3 scripts/dev.py run
test:
	python3 scripts/dev.py test
bench:
	python3 scripts/dev.py bench
