# Shortcuts; the commands themselves live in scripts/dev.py.
.PHONY: run test fuzz bench
run:
	python3 scripts/dev.py run
test:
	python3 scripts/dev.py test
fuzz:
	python3 scripts/dev.py fuzz
bench:
	python3 scripts/dev.py bench
