#!/usr/bin/env bash
# Installs SparseStorage on a fresh Debian 12 host with the .NET SDK, as root:
#   1. the tools the module drives (qemu-img, mkfs.*, losetup, cryptsetup, vblade, ...) from apt (skip: --no-apt);
#   2. the module, built from this checkout and assembled into ./out by tools/SparseStorage.Packager,
#      copied to /usr/local/share/powershell/Modules (the all-users module path of pwsh on Linux);
#   3. PowerShell as a .NET global tool when no pwsh 7.4 or later is found;
#   4. a run of examples/quickstart.ps1.
set -euo pipefail

readonly modules_root=/usr/local/share/powershell/Modules

usage() { echo "usage: $0 [--no-apt]"; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/prerequisites.sh
source "$repo/tools/prerequisites.sh"

install_apt=1
for arg in "$@"; do
  case "$arg" in
    --no-apt) install_apt=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install.sh: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done

[[ $(id -u) -eq 0 ]] || die "run me as root (for example: sudo $0): I install apt packages and write $modules_root."

cd "$repo"

if ((install_apt)); then
  install_missing_packages "${runtime_packages[@]}" "${ceph_client_packages[@]}"
else
  step "skipping host tools (--no-apt)"
fi

step "checking the .NET SDK"
require_dotnet_sdk

version=$(sed -nE "s/^[[:space:]]*ModuleVersion[[:space:]]*=[[:space:]]*['\"]([^'\"]+)['\"].*/\1/p" SparseStorage.psd1)
[[ -n $version ]] || die "no ModuleVersion in $repo/SparseStorage.psd1."

step "building SparseStorage $version (Release)"
dotnet build SparseStorage.sln -c Release -nologo -v quiet

step "assembling the module into $repo/out"
dotnet run --project tools/SparseStorage.Packager -c Release -- \
  assemble --root "$repo" --configuration Release --out "$repo/out"

# SparseStorageDsc (the DSC resources, which require SparseStorage) is installed beside it.
for module in SparseStorage SparseStorageDsc; do
  target="$modules_root/$module/$version"
  step "installing into $target"
  rm -rf "$target"
  mkdir -p "$(dirname "$target")"
  cp -R "out/$module/$version" "$target"
done
target="$modules_root/SparseStorage/$version"

pwsh=$(find_or_install_pwsh)
[[ -f examples/quickstart.ps1 ]] || die "examples/quickstart.ps1 is missing from $repo."
step "running examples/quickstart.ps1 with $pwsh"
"$pwsh" -NoProfile -NonInteractive -File examples/quickstart.ps1

step "done: SparseStorage $version is in $target (Import-Module SparseStorage)"
