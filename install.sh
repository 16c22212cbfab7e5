#!/usr/bin/env bash
# Installs SparseStorage on a fresh Debian 12 host, as root:
#   1. the tools the module drives (qemu-img, mkfs.*, losetup, cryptsetup, vblade, ...) from apt (skip: --no-apt);
#   2. the module, built from this checkout and assembled into ./out by tools/SparseStorage.Packager,
#      copied to /usr/local/share/powershell/Modules (the all-users module path of pwsh on Linux);
#   3. when pwsh is installed, a run of examples/quickstart.ps1.
set -euo pipefail

readonly packages=(
  qemu-utils qemu-system-common xfsprogs btrfs-progs e2fsprogs util-linux mount fuse3 cryptsetup-bin
  vblade aoetools zstd lzop rsync iproute2
)
readonly modules_root=/usr/local/share/powershell/Modules

usage() { echo "usage: $0 [--no-apt]"; }
step() { echo "==> $*"; }
die() { echo "install.sh: $*" >&2; exit 1; }

install_apt=1
for arg in "$@"; do
  case "$arg" in
    --no-apt) install_apt=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install.sh: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done

[[ $(id -u) -eq 0 ]] || die "run me as root (for example: sudo $0): I install apt packages and write $modules_root."

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$repo"

if ((install_apt)); then
  step "installing host tools (${packages[*]})"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
else
  step "skipping host tools (--no-apt)"
fi

step "checking the .NET SDK"
command -v dotnet >/dev/null ||
  die "dotnet was not found: install the .NET SDK 10 or later (the module runs on .NET 8; its build tools target .NET 10), then run me again."
# The packager and test projects target net10.0, which an older SDK cannot build.
dotnet --list-sdks | grep -Eq '^(1[0-9]|[2-9][0-9])\.' ||
  die "no .NET SDK 10 or later found (dotnet --list-sdks: $(dotnet --list-sdks | cut -d' ' -f1 | paste -sd' ' -)); install one, then run me again."
export DOTNET_NOLOGO=1

version=$(sed -nE "s/^[[:space:]]*ModuleVersion[[:space:]]*=[[:space:]]*['\"]([^'\"]+)['\"].*/\1/p" SparseStorage.psd1)
[[ -n $version ]] || die "no ModuleVersion in $repo/SparseStorage.psd1."

step "building SparseStorage $version (Release)"
dotnet build SparseStorage.sln -c Release -nologo -v quiet

step "assembling the module into $repo/out"
dotnet run --project tools/SparseStorage.Packager -c Release -- \
  assemble --root "$repo" --configuration Release --out "$repo/out"

target="$modules_root/SparseStorage/$version"
step "installing into $target"
rm -rf "$target"
mkdir -p "$(dirname "$target")"
cp -R "out/SparseStorage/$version" "$target"

if command -v pwsh >/dev/null; then
  [[ -f examples/quickstart.ps1 ]] || die "examples/quickstart.ps1 is missing from $repo."
  step "running examples/quickstart.ps1"
  pwsh -NoProfile -NonInteractive -File examples/quickstart.ps1
else
  step "pwsh was not found, so the demo (examples/quickstart.ps1) was skipped; install PowerShell 7.4 or later to run it"
fi

step "done: SparseStorage $version is in $target (Import-Module SparseStorage)"
