#Requires -Version 7.4
<#
.SYNOPSIS
A CI job with a throw-away disk: creates a volume, mounts it, runs the job's script on it, and always dismounts and
removes the volume again, whether the script succeeds, fails or the job is cancelled.

.DESCRIPTION
Creates a thin volume named ci-<random> (or -Name) in -Pool, with a filesystem, mounts it on -MountPoint (by
default a new directory under the temporary directory), and runs -ScriptPath with the mount point as its only
argument. Without -ScriptPath the job writes a file of random bytes to the volume and reads it back, a smoke test of
the host. In a finally block it dismounts the volume, removes it and deletes the mount point directory it created,
so no loop device, mount or image is left behind.

The exit code is 0 when the job's script succeeded and the cleanup worked, 1 otherwise (the error is written to the
error stream). The job's script fails by throwing or by leaving a non-zero $LASTEXITCODE. Nothing asks for
confirmation: the volume is the job's own. Mounting needs root.

.PARAMETER Pool
The pool the scratch volume is created in.

.PARAMETER Size
The scratch volume's virtual size; only what the job writes is allocated.

.PARAMETER FileSystem
The scratch volume's filesystem.

.PARAMETER Format
Raw or Qcow2.

.PARAMETER Name
The scratch volume's name; ci-<8 random hex digits> when not given.

.PARAMETER MountPoint
Where to mount the volume; it must not exist yet, or be an empty directory. A new directory under the temporary
directory when not given.

.PARAMETER ScriptPath
The job: a PowerShell script run with the mount point as its argument.

.OUTPUTS
One object: Name, Path, MountPoint, SizeBytes, AllocatedBytes (after the job), Removed.

.EXAMPLE
sudo pwsh -File ./examples/ci-scratch-volume.ps1 -Pool ci -Size 20GB -ScriptPath ./build-in.ps1

.EXAMPLE
sudo pwsh -File ./examples/ci-scratch-volume.ps1 -Pool ci -FileSystem Xfs -Size 1GB
Runs the built-in smoke test on a throw-away 1 GB xfs volume.
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)]
    [ValidateNotNullOrEmpty()]
    [string] $Pool,

    [ValidateNotNullOrEmpty()]
    [string] $Size = '1GB',

    [ValidateSet('Ext2', 'Ext3', 'Ext4', 'Xfs', 'Btrfs')]
    [string] $FileSystem = 'Ext4',

    [ValidateSet('Raw', 'Qcow2')]
    [string] $Format = 'Raw',

    [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.-]*$')]
    [string] $Name = ('ci-' + [guid]::NewGuid().ToString('N').Substring(0, 8)),

    [string] $MountPoint,

    [string] $ScriptPath
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

function Invoke-SmokeTest([string] $Directory) {
    $file = Join-Path $Directory 'smoke.bin'
    $bytes = [byte[]]::new(4MB)
    [System.Random]::Shared.NextBytes($bytes)
    [System.IO.File]::WriteAllBytes($file, $bytes)
    $back = [System.IO.File]::ReadAllBytes($file)
    if (-not [System.Linq.Enumerable]::SequenceEqual($bytes, $back)) {
        throw "The smoke test read back other bytes than it wrote to $file."
    }
}

function Invoke-Job([string] $Directory) {
    if (-not $ScriptPath) {
        Invoke-SmokeTest -Directory $Directory
        return
    }
    $global:LASTEXITCODE = 0
    & $ScriptPath $Directory
    if ($LASTEXITCODE -ne 0) {
        throw "The job $ScriptPath ended with exit code $LASTEXITCODE."
    }
}

# Dismounts and removes the volume and the mount point directory; returns the errors instead of stopping at one.
function Remove-ScratchVolume([string] $VolumePath, [string] $Directory, [bool] $RemoveDirectory) {
    $errors = @()
    try {
        Dismount-SparseVolume -Path $VolumePath -Confirm:$false
        Remove-SparseVolume -Path $VolumePath -Force
    }
    catch {
        $errors += $_
    }
    try {
        if ($RemoveDirectory -and $errors.Count -eq 0 -and (Test-Path -LiteralPath $Directory)) {
            Remove-Item -LiteralPath $Directory -Force # not -Recurse: it must be empty once dismounted
        }
    }
    catch {
        $errors += $_
    }
    $errors
}

try {
    if (-not (Get-Module -Name SparseStorage)) {
        Import-Module -Name SparseStorage
    }
    $ownMountPoint = -not $MountPoint
    if ($ownMountPoint) {
        $MountPoint = Join-Path ([System.IO.Path]::GetTempPath()) "sparsestorage-$Name"
    }
    $volume = New-SparseVolume -Name $Name -Pool $Pool -Size $Size -Format $Format -FileSystem $FileSystem
    if ($null -eq $volume) {
        return # -WhatIf: nothing was created, so nothing runs and nothing is removed
    }
    $jobError = $null
    $after = $null
    $cleanupErrors = @()
    try {
        $mounted = Mount-SparseVolume -Path $volume.Path -MountPoint $MountPoint
        Invoke-Job -Directory $mounted.MountPoint
        $after = Get-SparseVolume -Path $volume.Path
    }
    catch {
        $jobError = $_
    }
    finally {
        $cleanupErrors = @(Remove-ScratchVolume -VolumePath $volume.Path -Directory $MountPoint -RemoveDirectory $ownMountPoint)
    }
    foreach ($cleanupError in $cleanupErrors) {
        Write-Error -ErrorRecord $cleanupError -ErrorAction Continue
    }
    if ($jobError) {
        throw $jobError
    }
    if ($cleanupErrors.Count -gt 0) {
        throw "The job succeeded, but scratch volume $($volume.Path) could not be taken down; see the errors above."
    }
    [pscustomobject]@{
        Name           = $volume.Name
        Path           = $volume.Path
        MountPoint     = $MountPoint
        SizeBytes      = $after.SizeBytes
        AllocatedBytes = $after.AllocatedBytes
        Removed        = -not (Test-Path -LiteralPath $volume.Path)
    }
}
catch {
    Write-Error -ErrorRecord $_ -ErrorAction Continue
    exit 1
}
