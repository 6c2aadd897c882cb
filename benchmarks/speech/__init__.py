"""The parts of benchmarks/bench_speech.py: one module each, and what they share (see bench_speech.py)."""
