# Sourced by install.sh and test.sh (bash, as root): what a fresh Debian 12 machine with the .NET SDK lacks.
# Each step installs only what is missing, so a second run changes nothing and needs no network.

# The tools the module drives (Get-StorageHost reports them).
readonly runtime_packages=(
  qemu-utils qemu-system-common qemu-block-extra xfsprogs btrfs-progs e2fsprogs util-linux mount fuse3
  cryptsetup-bin vblade zstd lzop rsync iproute2 tar
)
# What only the test suites use besides: aoetools (cross-check of AoE exports), diffutils, jq, uuid-runtime.
readonly test_packages=(aoetools diffutils jq uuid-runtime)
# Ceph: the client tools (rbd, ceph; qemu's rbd driver is in qemu-block-extra) that a Ceph pool needs, and the
# daemons the test lab (tests/ceph/lab.sh) runs a cluster of; install.sh installs only the client tools.
readonly ceph_client_packages=(ceph-common)
readonly ceph_packages=("${ceph_client_packages[@]}" ceph ceph-mon ceph-mgr ceph-osd)

readonly pwsh_version=7.6.9
# PowerShell 7.4 is the oldest the module supports (PowerShellVersion in SparseStorage.psd1).
readonly pwsh_minimum_version=7.4
readonly dotnet_tools="${HOME:-/root}/.dotnet/tools"

step() { echo "==> $*"; }
die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# apt-get install of the named packages that dpkg does not list as installed (no apt-get update when none is missing).
install_missing_packages() {
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$package")
  done
  if ((${#missing[@]} == 0)); then
    step "host tools: all installed ($*)"
    return
  fi
  step "installing host tools: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

require_dotnet_sdk() {
  command -v dotnet >/dev/null ||
    die "dotnet was not found: install the .NET SDK 10 or later (the module runs on .NET 8; its build tools target .NET 10), then run me again."
  # The packager and test projects target net10.0, which an older SDK cannot build.
  dotnet --list-sdks | grep -Eq '^(1[0-9]|[2-9][0-9])\.' ||
    die "no .NET SDK 10 or later found (dotnet --list-sdks: $(dotnet --list-sdks | cut -d' ' -f1 | paste -sd' ' -)); install one, then run me again."
  export DOTNET_NOLOGO=1
}

# True when the pwsh at $1 runs and is at least $pwsh_minimum_version.
pwsh_is_usable() {
  local version
  version=$("$1" -NoProfile -NonInteractive -Command '$PSVersionTable.PSVersion.ToString()' 2>/dev/null) || return 1
  [[ $(printf '%s\n%s\n' "$pwsh_minimum_version" "$version" | sort -V | head -n1) == "$pwsh_minimum_version" ]]
}

# Prints the path of a usable pwsh: the one on PATH, else the .NET global tool, installed (PowerShell $pwsh_version,
# from NuGet) when missing. The global tool's directory is not on PATH by itself.
find_or_install_pwsh() {
  local candidate
  for candidate in "$(command -v pwsh || true)" "$dotnet_tools/pwsh"; do
    if [[ -n $candidate && -x $candidate ]] && pwsh_is_usable "$candidate"; then
      echo "$candidate"
      return
    fi
  done
  step "installing PowerShell $pwsh_version as a .NET global tool into $dotnet_tools" >&2
  dotnet tool update --global PowerShell --version "$pwsh_version" >&2
  pwsh_is_usable "$dotnet_tools/pwsh" || die "PowerShell $pwsh_version was installed but $dotnet_tools/pwsh does not run."
  echo "$dotnet_tools/pwsh"
}
