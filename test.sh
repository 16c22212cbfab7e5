#!/usr/bin/env bash
# Runs every test of SparseStorage, as root: the xunit suites and the Pester suites against the built module
# (./build.ps1 -Task Test). Installs first what a fresh Debian 12 host with the .NET SDK lacks: the host tools from apt
# (skip: --no-apt), PowerShell as a .NET global tool when no pwsh 7.4 or later is found, and Pester 5.7.1 from NuGet
# (build.ps1 puts it in out/modules when no Pester 5.7.1 is installed).
# SPARSESTORAGE_INTEGRATION defaults to require: an integration test whose prerequisite is missing fails, not skips.
# The last line is 'N passed, N failed' over both suites; the exit code is 0 only when all passed.
set -euo pipefail

usage() { echo "usage: $0 [--no-apt] [-Configuration Debug|Release]"; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/prerequisites.sh
source "$repo/tools/prerequisites.sh"

install_apt=1
build_arguments=()
while (($# > 0)); do
  case "$1" in
    --no-apt) install_apt=0 ;;
    -Configuration) build_arguments+=(-Configuration "${2:?-Configuration needs Debug or Release}"); shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "test.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

[[ $(id -u) -eq 0 ]] || die "run me as root (for example: sudo $0): the integration tests use loop devices, mounts and network namespaces."
cd "$repo"

if ((install_apt)); then
  install_missing_packages "${runtime_packages[@]}" "${test_packages[@]}" "${ceph_packages[@]}"
else
  step "skipping host tools (--no-apt)"
fi
require_dotnet_sdk
pwsh=$(find_or_install_pwsh)

export SPARSESTORAGE_INTEGRATION="${SPARSESTORAGE_INTEGRATION:-require}"
step "$pwsh ./build.ps1 -Task Test ${build_arguments[*]} (SPARSESTORAGE_INTEGRATION=$SPARSESTORAGE_INTEGRATION)"
exec "$pwsh" -NoProfile -NonInteractive -File ./build.ps1 -Task Test "${build_arguments[@]}"
