#Requires -Version 7.4
<#
.SYNOPSIS
Brings a storage node up: checks the host, brings the interface up, registers the pool, and exports the pool's
volumes as ATA-over-Ethernet targets on one shelf, restarting the exports that died or went stale with a reboot.

.DESCRIPTION
Run at boot (or by hand after maintenance) on each node of an AoE storage cluster; a supervisor then finds the
targets with Find-AtaoeDisk and adds them to its volume group (Add-AtaoeDiskToGroup). Steps:

1. Get-StorageHost: vblade must be installed.
2. The interface must exist; it is brought up (ip link set dev <interface> up) when it is down.
3. With -PoolPath, the pool is registered when it is not yet.
4. Every volume of the pool (or those matching -Name) is exported on -Shelf and -Interface:
   - a volume this node already serves there (Running) is left alone;
   - a volume whose export is Dead or Stale (its vblade died, or the host rebooted) is exported again at the same
     slot with -Restart, so the supervisor finds it at the address it knows;
   - any other volume gets the lowest free slot.
   A volume that is mounted or attached here is skipped with a warning unless -ReadOnly: a second writer would
   corrupt it.

A volume that fails is reported as an error and the next one is processed; the script then exits with code 1.
Exporting needs root. Nothing asks for confirmation (Medium impact); -WhatIf shows the command lines that start vblade.

.PARAMETER Pool
The pool whose volumes this node serves.

.PARAMETER PoolPath
The pool's directory: registers the pool under -Pool when it is not registered yet.

.PARAMETER Shelf
The node's AoE shelf number (0-65534); each node of a cluster has its own.

.PARAMETER Interface
The network interface to serve on.

.PARAMETER Name
Only the volumes whose names match (wildcards allowed).

.PARAMETER ReadOnly
Export read-only (vblade -r); also allows exporting volumes that are mounted here.

.OUTPUTS
The node's exports on the shelf and interface afterwards (SparseStorage.Core.Aoe.AtaoeExport).

.EXAMPLE
sudo pwsh -File ./examples/aoe-node-bringup.ps1 -Pool node7 -PoolPath /srv/pools/node7 -Shelf 7 -Interface eth1

.EXAMPLE
./examples/aoe-node-bringup.ps1 -Pool node7 -Shelf 7 -Interface eth1 -WhatIf
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)]
    [ValidateNotNullOrEmpty()]
    [string] $Pool,

    [string] $PoolPath,

    [Parameter(Mandatory)]
    [ValidateRange(0, 65534)]
    [int] $Shelf,

    [Parameter(Mandatory)]
    [ValidatePattern('^[A-Za-z0-9_.:@-]{1,15}$')]
    [string] $Interface,

    [ValidateNotNullOrEmpty()]
    [string[]] $Name = @('*'),

    [switch] $ReadOnly
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

function Assert-Vblade {
    $vblade = @((Get-StorageHost).Tools | Where-Object { $_.Name -eq 'vblade' -and $_.IsInstalled })
    if ($vblade.Count -eq 0) {
        throw 'vblade is not installed (Debian package vblade); this node cannot export volumes.'
    }
}

function Initialize-Interface {
    $flagsPath = "/sys/class/net/$Interface/flags"
    if (-not (Test-Path -LiteralPath $flagsPath)) {
        throw "There is no network interface '$Interface' on this host."
    }
    $isUp = ([Convert]::ToInt32((Get-Content -LiteralPath $flagsPath -Raw).Trim(), 16) -band 1) -eq 1 # IFF_UP
    if ($isUp -or -not $PSCmdlet.ShouldProcess($Interface, 'ip link set dev <interface> up')) {
        return
    }
    $output = & ip link set dev $Interface up 2>&1
    if ($LASTEXITCODE -ne 0) {
        throw "ip link set dev $Interface up failed ($LASTEXITCODE): $output"
    }
}

function Initialize-Pool {
    if (Get-StoragePool -Name $Pool -ErrorAction SilentlyContinue) {
        return
    }
    if (-not $PoolPath) {
        throw "Pool '$Pool' is not registered on this node; give -PoolPath to register it."
    }
    $null = Register-StoragePool -Name $Pool -Path $PoolPath
}

function Export-NodeVolume([psobject] $Volume, [object[]] $Exports) {
    $existing = @($Exports | Where-Object VolumePath -EQ $Volume.Path)
    if (@($existing | Where-Object State -EQ 'Running').Count -gt 0) {
        Write-Verbose "'$($Volume.Name)' is served already as $($existing[0].Target)."
        return
    }
    if (($Volume.IsMounted -or $Volume.IsAttached) -and -not $ReadOnly) {
        Write-Warning "Not exporting '$($Volume.Name)': it is in use on this node ($($Volume.MountPoint ?? $Volume.LoopDevice)); a second writer would corrupt it. Use -ReadOnly to serve it read-only."
        return
    }
    $export = @{ Path = $Volume.Path; Shelf = $Shelf; Interface = $Interface; ReadOnly = $ReadOnly }
    if ($existing.Count -gt 0) {
        # Back at the address the supervisor knows.
        $export.Slot = [string] $existing[0].Slot
        $export.Restart = $true
    }
    $null = Export-AtaoeDisk @export
}

try {
    if (-not (Get-Module -Name SparseStorage)) {
        Import-Module -Name SparseStorage
    }
    Assert-Vblade
    Initialize-Interface
    Initialize-Pool
    $exports = @(Get-AtaoeExport -Shelf $Shelf -Interface $Interface)
    $failed = 0
    $volumes = @(Get-SparseVolume -Name $Name -Pool $Pool)
    foreach ($volume in $volumes) {
        try {
            Export-NodeVolume -Volume $volume -Exports $exports
        }
        catch {
            $failed++
            Write-Error -ErrorRecord $_ -ErrorAction Continue
        }
    }
    Get-AtaoeExport -Shelf $Shelf -Interface $Interface
    if ($failed -gt 0) {
        throw "$failed of $($volumes.Count) volumes of pool '$Pool' could not be exported."
    }
}
catch {
    Write-Error -ErrorRecord $_ -ErrorAction Continue
    exit 1
}
