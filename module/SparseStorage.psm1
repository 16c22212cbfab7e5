# The cmdlets live in SparseStorage.PowerShell.dll (a nested module of the manifest). This script module is the
# manifest's root so that script-level pieces (the DSC resources of later releases) can live beside them.
Set-StrictMode -Version Latest

if (-not $IsLinux) {
    throw 'SparseStorage manages Linux loop devices, mounts and filesystems; it runs only on Linux.'
}
