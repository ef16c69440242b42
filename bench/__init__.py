"""The benchmark the project's speed targets are measured with: `python -m bench.run [--quick]` (see bench/README.md and docs/contributing.md)."""
