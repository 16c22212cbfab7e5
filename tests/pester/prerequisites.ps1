# Dot-sourced by the suites' BeforeDiscovery blocks, which decide what to skip before any test runs:
#
#     BeforeDiscovery {
#         . (Join-Path $PSScriptRoot 'prerequisites.ps1')
#         $Skip = -not $RequireIntegration -and -not ($IsRoot -and (Test-Tool 'losetup', 'mount'))
#     }
#
# SPARSESTORAGE_INTEGRATION=require turns a missing prerequisite into a failure instead of a skip.

$IsRoot = (& id -u) -eq '0'
$RequireIntegration = $env:SPARSESTORAGE_INTEGRATION -eq 'require'

# True when every named program is on PATH.
function Test-Tool([string[]] $Name) {
    @($Name | Where-Object { -not (Get-Command -Name $_ -CommandType Application -ErrorAction Ignore) }).Count -eq 0
}

# As the module decides: the kernel lists its device-mapper driver in /proc/misc, and the control node exists.
$HasDeviceMapper = (Test-Path -LiteralPath '/dev/mapper/control') -and
    @(Get-Content -LiteralPath '/proc/misc' -ErrorAction Ignore | Where-Object { $_.Trim() -match '^\d+\s+device-mapper$' }).Count -gt 0
# Encrypted volumes open in userspace through qemu-storage-daemon's FUSE export.
$HasUserspace = (Test-Tool 'qemu-storage-daemon') -and (Test-Path -LiteralPath '/dev/fuse')
