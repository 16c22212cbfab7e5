#Requires -Version 7.4
<#
.SYNOPSIS
The nightly job of a pool: a snapshot of every volume, an incremental backup with retention, old snapshots pruned,
and freed space given back to the pool.

.DESCRIPTION
For every volume of the pools given (or only those matching -Name), in this order:

1. New-VolumeSnapshot named <SnapshotPrefix>-<UTC time> (a mounted filesystem is frozen meanwhile); not for the
   base image of linked clones, which must not change.
2. Remove-VolumeSnapshot of the snapshots named <SnapshotPrefix>-* beyond the newest -KeepSnapshots; snapshots with
   other names (taken by hand) are never touched.
3. Backup-SparseVolume into -Destination: a full set the first time and on -FullBackupDay, an incremental one
   otherwise, keeping the newest -KeepBackups sets and whatever their chains need.
4. Optimize-SparseVolume, unless -SkipOptimize: fstrim, hole punching, or qcow2 compaction. Volumes it would refuse
   are skipped with a verbose message: the base image of linked clones, a volume attached without a mounted
   filesystem, a read-only mount.

A volume that fails is reported as an error and the next one is processed; the script then exits with code 1.
Removing snapshots asks for confirmation (High impact): run unattended with -Confirm:$false.

.PARAMETER Pool
The pools whose volumes are maintained.

.PARAMETER Name
Only the volumes whose names match (wildcards allowed).

.PARAMETER Destination
The backup destination directory (sets go to <Destination>/<volume>/).

.PARAMETER KeepSnapshots
How many nightly snapshots of each volume to keep, the one just taken included.

.PARAMETER KeepBackups
How many backup sets of each volume to keep (Backup-SparseVolume -Keep).

.PARAMETER FullBackupDay
The day of the week (UTC) with a full backup instead of an incremental one, or Never.

.PARAMETER SnapshotPrefix
The name prefix of the snapshots this job takes and prunes.

.PARAMETER SkipOptimize
Do not run Optimize-SparseVolume.

.OUTPUTS
One object a volume: Name, Pool, Path, Snapshot, SnapshotsRemoved, Backup, BackupKind, StoredBytes, ReclaimedBytes,
Status (Done or Failed), Error.

.EXAMPLE
sudo pwsh -File ./examples/nightly-maintenance.ps1 -Pool tenants -Destination /backup '-Confirm:$false'

.EXAMPLE
./examples/nightly-maintenance.ps1 -Pool tenants -Name web* -Destination /backup -KeepSnapshots 3 -FullBackupDay Never -WhatIf
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)]
    [ValidateNotNullOrEmpty()]
    [string[]] $Pool,

    [ValidateNotNullOrEmpty()]
    [string[]] $Name = @('*'),

    [Parameter(Mandatory)]
    [ValidateNotNullOrEmpty()]
    [string] $Destination,

    [ValidateRange(1, 1000)]
    [int] $KeepSnapshots = 7,

    [ValidateRange(1, 1000)]
    [int] $KeepBackups = 14,

    [ValidateSet('Never', 'Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday')]
    [string] $FullBackupDay = 'Sunday',

    [ValidatePattern('^[A-Za-z][A-Za-z0-9_.-]*$')]
    [string] $SnapshotPrefix = 'nightly',

    [switch] $SkipOptimize
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

function Invoke-SnapshotRotation([psobject] $Volume) {
    $snapshotName = '{0}-{1:yyyyMMdd-HHmmssfff}' -f $SnapshotPrefix, [DateTime]::UtcNow
    $snapshot = New-VolumeSnapshot -VolumePath $Volume.Path -Name $snapshotName
    $expired = @(Get-VolumeSnapshot -VolumePath $Volume.Path -Name "$SnapshotPrefix-*" |
            Sort-Object -Property CreatedUtc, Name | Select-Object -SkipLast $KeepSnapshots)
    $removed = @($expired | Remove-VolumeSnapshot -PassThru)
    [pscustomobject]@{ Snapshot = if ($snapshot) { $snapshot.Name } else { $null }; Removed = $removed.Count }
}

# Why Optimize-SparseVolume would refuse the volume, or $null when it can run.
function Get-OptimizeObstacle([psobject] $Volume, [string[]] $BaseImages) {
    if ($Volume.Path -in $BaseImages) { return 'it is the base image of linked clones' }
    if ($Volume.IsAttached -and -not $Volume.IsMounted) { return 'it is attached without a mounted filesystem' }
    if ($Volume.IsMounted -and $Volume.IsReadOnly) { return 'it is mounted read-only' }
    $null
}

function Invoke-VolumeMaintenance([psobject] $Volume, [string[]] $BaseImages) {
    $rotation = $null
    if ($Volume.Path -in $BaseImages) {
        # A snapshot would rewrite the qcow2 metadata that its linked clones read through.
        Write-Verbose "No snapshot of '$($Volume.Name)': it is the base image of linked clones."
    }
    else {
        $rotation = Invoke-SnapshotRotation -Volume $Volume
    }
    $full = $FullBackupDay -eq [DateTime]::UtcNow.DayOfWeek.ToString()
    $backup = Backup-SparseVolume -Path $Volume.Path -Destination $Destination -Keep $KeepBackups -Full:$full
    $reclaimed = $null
    $obstacle = Get-OptimizeObstacle -Volume $Volume -BaseImages $BaseImages
    if ($SkipOptimize) {
        Write-Verbose "Not optimizing '$($Volume.Name)': -SkipOptimize."
    }
    elseif ($obstacle) {
        Write-Verbose "Not optimizing '$($Volume.Name)': $obstacle."
    }
    else {
        $optimized = Optimize-SparseVolume -Path $Volume.Path
        if ($optimized) { $reclaimed = $optimized.ReclaimedBytes }
    }
    New-ResultRow -Volume $Volume -Status 'Done' -Rotation $rotation -Backup $backup -ReclaimedBytes $reclaimed
}

function New-ResultRow([psobject] $Volume, [string] $Status, [psobject] $Rotation, [psobject] $Backup, [object] $ReclaimedBytes, [string] $Message) {
    [pscustomobject]@{
        Name             = $Volume.Name
        Pool             = $Volume.Pool
        Path             = $Volume.Path
        Snapshot         = if ($Rotation) { $Rotation.Snapshot } else { $null }
        SnapshotsRemoved = if ($Rotation) { $Rotation.Removed } else { 0 }
        Backup           = if ($Backup) { $Backup.Name } else { $null }
        BackupKind       = if ($Backup) { $Backup.Kind.ToString() } else { $null }
        StoredBytes      = if ($Backup) { $Backup.StoredBytes } else { $null }
        ReclaimedBytes   = $ReclaimedBytes
        Status           = $Status
        Error            = $Message
    }
}

try {
    if (-not (Get-Module -Name SparseStorage)) {
        Import-Module -Name SparseStorage
    }
    $volumes = @(foreach ($poolName in $Pool) { Get-SparseVolume -Name $Name -Pool $poolName })
    # A qcow2 header may name its base relative to the clone's directory.
    $baseImages = @($volumes | Where-Object BackingFile |
            ForEach-Object { [System.IO.Path]::GetFullPath($_.BackingFile, (Split-Path -Parent $_.Path)) })
    $failed = 0
    foreach ($volume in $volumes) {
        try {
            Invoke-VolumeMaintenance -Volume $volume -BaseImages $baseImages
        }
        catch {
            $failed++
            Write-Error -ErrorRecord $_ -ErrorAction Continue
            New-ResultRow -Volume $volume -Status 'Failed' -Message $_.Exception.Message
        }
    }
    if ($failed -gt 0) {
        throw "Maintenance failed for $failed of $($volumes.Count) volumes; the others are done."
    }
}
catch {
    Write-Error -ErrorRecord $_ -ErrorAction Continue
    exit 1
}
