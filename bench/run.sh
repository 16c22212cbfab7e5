#!/usr/bin/env bash
# Runs the SparseStorage benchmarks (see bench/README.md). Run as root from anywhere; options go to the program.
set -euo pipefail
cd "$(dirname "$0")/.."
exec dotnet run -c Release --project bench/SparseStorage.Bench -- "$@"
