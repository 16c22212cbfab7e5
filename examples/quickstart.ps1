#Requires -Version 7.4
<#
.SYNOPSIS
A short, unattended tour of SparseStorage: a pool, a thin 10 GB ext4 volume, a mount, a grow, and a clean exit.

.DESCRIPTION
Registers a pool 'quickstart' in a temporary directory, creates a sparse 10 GB ext4 volume 'demo' in it, shows the
pool's overcommit, mounts the volume, writes a file, shows what the volume really occupies against what it offers,
then dismounts it, grows it by 5 GB, removes it, unregisters the pool and deletes the directory. Whatever happens
(an error, Ctrl+C), the finally block takes down what is still in place.

The grow runs after the dismount, offline (e2fsck, then resize2fs on the image file): some kernels refuse to grow a
mounted ext4 filesystem, and Resize-SparseVolume then stops with OnlineResizeRefused.

Your own pools are untouched: the demo keeps its pool in a temporary configuration file ($env:SPARSESTORAGE_CONFIG,
restored at the end). The run-time directory stays the default one, so the demo's mount is recorded where your own
sessions look for mounts.

Mounting needs root: run it as sudo pwsh ./examples/quickstart.ps1. With -WhatIf it only says what it would do
(no root needed); with -Confirm it asks before the tour and before each step.

.EXAMPLE
sudo pwsh ./examples/quickstart.ps1

.EXAMPLE
pwsh ./examples/quickstart.ps1 -WhatIf
#>
[CmdletBinding(SupportsShouldProcess)]
param()

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$demoRoot = Join-Path ([System.IO.Path]::GetTempPath()) ('sparsestorage-quickstart-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
$poolPath = Join-Path $demoRoot 'pool'
$mountPoint = Join-Path $demoRoot 'demo'
$configPath = Join-Path $demoRoot 'pools.json'

# Each step needs the one before it, so the tour runs whole or not at all.
if (-not $PSCmdlet.ShouldProcess($demoRoot, "Register pool 'quickstart' there; create, mount, write, dismount, grow and remove a 10 GB ext4 volume 'demo'; delete the directory")) {
    return
}

if ((& id -u) -ne '0') {
    throw 'The quickstart mounts a volume, which needs root (loop devices and mount). Run: sudo pwsh ./examples/quickstart.ps1'
}

# The module built from this repository (./build.ps1 -Task Build) if there is one, else the installed module.
$version = (Import-PowerShellDataFile -LiteralPath (Join-Path $PSScriptRoot '../SparseStorage.psd1')).ModuleVersion
$built = Join-Path $PSScriptRoot "../out/SparseStorage/$version/SparseStorage.psd1"
if (Test-Path -LiteralPath $built -PathType Leaf) {
    Import-Module -Name $built -Force
}
else {
    Import-Module -Name SparseStorage
}

function Format-Size([long] $Bytes) {
    [SparseStorage.Core.ByteSize]::Format($Bytes)
}

$savedConfig = $env:SPARSESTORAGE_CONFIG
$cleanupFailed = $false

try {
    $null = New-Item -ItemType Directory -Path $demoRoot, $poolPath
    $env:SPARSESTORAGE_CONFIG = $configPath
    Write-Host "Working in $demoRoot; pools are recorded in $configPath, so your own pools are untouched."

    $pool = Register-StoragePool -Name 'quickstart' -Path $poolPath
    Write-Host ("Registered pool '{0}' at {1} ({2} filesystem, {3} capacity, {4} free)." -f
        $pool.Name, $pool.Path, $pool.HostFileSystem, (Format-Size $pool.CapacityBytes), (Format-Size $pool.FreeBytes))

    $volume = New-SparseVolume -Name 'demo' -Pool 'quickstart' -Size 10GB -FileSystem Ext4
    Write-Host ("Created volume '{0}' at {1}: {2} virtual, {3} allocated (the ext4 metadata)." -f
        $volume.Name, $volume.Path, (Format-Size $volume.SizeBytes), (Format-Size $volume.AllocatedBytes))

    $pool = Get-StoragePool -Name 'quickstart'
    Write-Host ("Pool 'quickstart' has promised {0} and uses {1} of a {2} disk: overcommit ratio {3}." -f
        (Format-Size $pool.ProvisionedBytes), (Format-Size $pool.AllocatedBytes), (Format-Size $pool.CapacityBytes), $pool.OvercommitRatio)
    $pool | Out-Host

    $volume = $volume | Mount-SparseVolume -MountPoint $mountPoint
    Write-Host "Mounted '$($volume.Name)' at $($volume.MountPoint) through $($volume.LoopDevice)."

    $file = Join-Path $mountPoint 'random.bin'
    $data = [byte[]]::new(64MB)
    [System.Random]::Shared.NextBytes($data)
    $stream = [System.IO.File]::Create($file)
    try {
        $stream.Write($data, 0, $data.Length)
        $stream.Flush($true) # fsync, so the blocks reach the image file before we measure it
    }
    finally {
        $stream.Dispose()
    }
    Write-Host "Wrote $(Format-Size $data.Length) of random data to $file."

    $volume = Get-SparseVolume -Name 'demo' -Pool 'quickstart'
    Write-Host ("Volume 'demo' offers {0} and occupies {1} of the pool's disk ({2}% of its size)." -f
        (Format-Size $volume.SizeBytes), (Format-Size $volume.AllocatedBytes), $volume.AllocatedPercent)
    Get-SparseVolume -Pool 'quickstart' | Out-Host

    Dismount-SparseVolume -Name 'demo' -Pool 'quickstart'
    Write-Host "Dismounted '$($volume.Name)' and detached $($volume.LoopDevice)."

    # Grown offline, now that it is dismounted: image first, then the filesystem. A grow does not ask for confirmation.
    $resize = Resize-SparseVolume -Name 'demo' -Pool 'quickstart' -Delta +5GB
    Write-Host ("Grew '{0}' from {1} to {2}; its ext4 filesystem now spans {3}. The steps that ran:" -f
        $resize.Name, (Format-Size $resize.OldSizeBytes), (Format-Size $resize.NewSizeBytes), (Format-Size $resize.FileSystemSizeBytes))
    $resize.Steps | ForEach-Object { Write-Host "    $_" }
    $volume = $resize.Volume
    Write-Host ("Volume 'demo' now offers {0} and occupies {1} of the pool's disk." -f
        (Format-Size $volume.SizeBytes), (Format-Size $volume.AllocatedBytes))
    Get-SparseVolume -Pool 'quickstart' | Out-Host

    Remove-SparseVolume -Name 'demo' -Pool 'quickstart' -Confirm:$false
    Write-Host "Removed volume 'demo' ($($volume.Path))."

    Unregister-StoragePool -Name 'quickstart' -Confirm:$false
    Write-Host "Unregistered pool 'quickstart'."
}
finally {
    # Take down whatever is still in place, in reverse order, but only ever in the demo's own configuration.
    if ($env:SPARSESTORAGE_CONFIG -eq $configPath) {
        try {
            foreach ($leftover in @(Get-SparseVolume -Pool 'quickstart' -ErrorAction Ignore)) {
                Write-Host "Cleaning up volume '$($leftover.Name)'."
                Dismount-SparseVolume -Path $leftover.Path
                Remove-SparseVolume -Path $leftover.Path -Force -Confirm:$false
            }
            if (Get-StoragePool -Name 'quickstart' -ErrorAction Ignore) {
                Write-Host "Cleaning up pool 'quickstart'."
                Unregister-StoragePool -Name 'quickstart' -Confirm:$false
            }
        }
        catch {
            $cleanupFailed = $true
            Write-Warning "Cleanup failed: $_"
        }
    }
    [System.Environment]::SetEnvironmentVariable('SPARSESTORAGE_CONFIG', $savedConfig)

    if ($cleanupFailed) {
        # A volume may still be mounted inside it: deleting recursively would go through the mount.
        Write-Warning "Left $demoRoot in place. To inspect it: `$env:SPARSESTORAGE_CONFIG = '$configPath'; Get-SparseVolume -Pool quickstart"
    }
    elseif (Test-Path -LiteralPath $demoRoot) {
        Remove-Item -LiteralPath $demoRoot -Recurse -Force
        Write-Host "Deleted $demoRoot."
    }
}
