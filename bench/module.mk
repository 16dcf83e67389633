# Benchmarks: print figures, never fail on timing.
bench: all
	@echo "no benchmarks yet"
