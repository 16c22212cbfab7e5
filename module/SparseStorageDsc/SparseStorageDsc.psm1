# The class-based DSC resources SparseVolume and SparseStoragePool, in a module of their own so that SparseStorage
# stays a plain binary module that compiles no script at import. The manifest requires SparseStorage, so its cmdlets
# are loaded before this file runs.
#
# The DSC classes must be in this file, the RootModule itself, not in a nested or dot-sourced script:
# PSDesiredStateConfiguration 2.x's Get-DscResource looks for [DscResource()] classes in the root module's file, and
# Invoke-DscResource creates the resource with 'using module <manifest>', which exposes only the root module's classes
# (about_Using). The loader also walks the manifest's nested modules and refuses any binary one
# (ConfigurationNotSupportedInPowerShellCore); SparseStorage is a required module, not a nested one, so it is not
# walked. The decisions are made in Core (SparseStorage.Core.Configuration, unit-tested there); the classes read the
# host through the cmdlets, ask Core's planner what differs, and run the planned steps through the cmdlets.
Set-StrictMode -Version Latest

if (-not $IsLinux) {
    throw 'SparseStorage manages Linux loop devices, mounts and filesystems; it runs only on Linux.'
}

# The classes name Core types as strings, resolved when a method runs: a type literal in a class body must resolve
# when the file is parsed, and Get-DscResource parses this file without loading the module. Loading the assembly from
# the required SparseStorage module makes the names resolvable even before any cmdlet has run in this runspace.
$sparseStorage = Get-Module -Name SparseStorage | Sort-Object -Property Version -Descending | Select-Object -First 1
Add-Type -Path (Join-Path $sparseStorage.ModuleBase 'SparseStorage.Core.dll')

function Get-SparseStorageType {
    param([Parameter(Mandatory)] [string] $FullName)

    $type = $FullName -as [type]
    if ($null -eq $type) {
        throw "The type $FullName is not loaded; SparseStorage.Core.dll is missing from $PSScriptRoot."
    }
    $type
}

enum Ensure {
    Present
    Absent
}

<#
A thin-provisioned volume in a registered pool. Properties left empty (Format, FileSystem, Label, MountPoint) are not
managed on an existing volume. Test is exact: the virtual size must be at least Size and less than Size + 1 MiB.
Set only grows a volume unless AllowShrink is $true, never reformats, converts or decrypts one, and changes nothing
when it is already in the desired state.
#>
[DscResource()]
class SparseVolume {
    [DscProperty()]
    [Ensure] $Ensure = [Ensure]::Present

    [DscProperty(Key)]
    [string] $Name

    [DscProperty(Key)]
    [string] $Pool

    # 10GB, '10GiB', '1.5T' or a number of bytes; binary units. Required when Ensure is Present.
    [DscProperty()]
    [string] $Size

    # Raw or Qcow2.
    [DscProperty()]
    [string] $Format

    # None, Ext2, Ext3, Ext4, Xfs, Btrfs or Swap.
    [DscProperty()]
    [string] $FileSystem

    [DscProperty()]
    [string] $Label

    # An absolute path; the volume is mounted there (the directory is created when its parent exists).
    [DscProperty()]
    [string] $MountPoint

    [DscProperty()]
    [bool] $Encrypted

    # An absolute path to the file whose contents are the key; required with Encrypted. Nothing is ever prompted.
    [DscProperty()]
    [string] $KeyFile

    [DscProperty()]
    [bool] $AllowShrink

    [DscProperty(NotConfigurable)]
    [string] $Path

    [DscProperty(NotConfigurable)]
    [long] $SizeBytes

    [DscProperty(NotConfigurable)]
    [long] $AllocatedBytes

    [SparseVolume] Get() {
        $volume = $this.FindVolume()
        $current = [SparseVolume]::new()
        $current.Name = $this.Name
        $current.Pool = $this.Pool
        $current.KeyFile = $this.KeyFile
        $current.AllowShrink = $this.AllowShrink
        if ($null -eq $volume) {
            $current.Ensure = [Ensure]::Absent
            return $current
        }
        $observedType = Get-SparseStorageType 'SparseStorage.Core.Configuration.ObservedVolume'
        $observed = $observedType::From($volume)
        $current.Ensure = [Ensure]::Present
        $current.Size = [string] $observed.SizeBytes
        $current.Format = [string] $observed.Format
        # A locked encrypted volume reports None: its filesystem lies behind the key.
        $current.FileSystem = [string] $observed.FileSystem
        $current.Label = $observed.Label
        $current.MountPoint = $observed.MountPoint
        $current.Encrypted = $observed.IsEncrypted
        $current.Path = $observed.Path
        $current.SizeBytes = $observed.SizeBytes
        $current.AllocatedBytes = $volume.AllocatedBytes
        return $current
    }

    [bool] Test() {
        $plan = $this.Plan($this.FindVolume())
        foreach ($difference in @($plan.Differences) + @($plan.Conflicts)) {
            Write-Verbose -Message "SparseVolume '$($plan.Target)': $difference"
        }
        return $plan.IsInDesiredState
    }

    [void] Set() {
        $plan = $this.Plan($this.FindVolume())
        $plan.RequireNoConflicts()
        foreach ($step in $plan.Changes) {
            Write-Verbose -Message "SparseVolume '$($plan.Target)': $($step.Description)"
            $this.Apply($step)
        }
    }

    hidden [object] FindVolume() {
        $volumeName = $this.Name
        return Get-SparseVolume -Pool $this.Pool -ErrorAction Stop |
            Where-Object -Property Name -EQ -Value $volumeName |
            Select-Object -First 1
    }

    hidden [object] Plan([object] $volume) {
        $desiredType = Get-SparseStorageType 'SparseStorage.Core.Configuration.VolumeDesiredState'
        $plannerType = Get-SparseStorageType 'SparseStorage.Core.Configuration.VolumePlanner'
        $desired = $desiredType::FromProperties($this.DesiredProperties())
        return $plannerType::Plan($desired, $volume)
    }

    hidden [hashtable] DesiredProperties() {
        return @{
            Ensure      = [string] $this.Ensure
            Name        = $this.Name
            Pool        = $this.Pool
            Size        = $this.Size
            Format      = $this.Format
            FileSystem  = $this.FileSystem
            Label       = $this.Label
            MountPoint  = $this.MountPoint
            Encrypted   = $this.Encrypted
            KeyFile     = $this.KeyFile
            AllowShrink = $this.AllowShrink
        }
    }

    hidden [void] Apply([object] $step) {
        $volume = @{ Name = $this.Name; Pool = $this.Pool; Confirm = $false; ErrorAction = 'Stop' }
        switch ([string] $step.Kind) {
            'Create' { $this.Create($step) }
            'Dismount' { $null = Dismount-SparseVolume @volume }
            'Grow' { $null = Resize-SparseVolume @volume -Size $step.SizeBytes }
            'Shrink' { $null = Resize-SparseVolume @volume -Size $step.SizeBytes -Force }
            'Protect' { $null = Protect-Volume @volume -KeyFile $this.KeyFile }
            'Mount' { $this.Mount($step, $volume) }
            'Remove' { $null = Remove-SparseVolume @volume -Force }
            default { throw "SparseVolume: unknown step '$($step.Kind)'." }
        }
    }

    hidden [void] Create([object] $step) {
        $arguments = @{
            Name        = $this.Name
            Pool        = $this.Pool
            Size        = $step.SizeBytes
            Confirm     = $false
            ErrorAction = 'Stop'
        }
        if ($this.Format) { $arguments['Format'] = $this.Format }
        if ($this.FileSystem) { $arguments['FileSystem'] = $this.FileSystem }
        if ($this.Label) { $arguments['Label'] = $this.Label }
        $null = New-SparseVolume @arguments
    }

    hidden [void] Mount([object] $step, [hashtable] $volume) {
        $arguments = $volume.Clone()
        $arguments['MountPoint'] = $step.MountPoint
        if ($step.UsesKeyFile) { $arguments['KeyFile'] = $this.KeyFile }
        $null = Mount-SparseVolume @arguments
    }
}

<#
A registered pool: a name for a directory that volumes may live in. A pool registered for another directory is an
error, not a move. Ensure = Absent unregisters the pool and keeps its files.
#>
[DscResource()]
class SparseStoragePool {
    [DscProperty()]
    [Ensure] $Ensure = [Ensure]::Present

    [DscProperty(Key)]
    [string] $Name

    # An absolute path to an existing directory; required when Ensure is Present.
    [DscProperty()]
    [string] $Path

    [DscProperty(NotConfigurable)]
    [long] $CapacityBytes

    [DscProperty(NotConfigurable)]
    [long] $ProvisionedBytes

    [DscProperty(NotConfigurable)]
    [int] $VolumeCount

    [SparseStoragePool] Get() {
        $pool = $this.FindPool()
        $current = [SparseStoragePool]::new()
        $current.Name = $this.Name
        if ($null -eq $pool) {
            $current.Ensure = [Ensure]::Absent
            return $current
        }
        $current.Ensure = [Ensure]::Present
        $current.Path = $pool.Path
        $current.CapacityBytes = $pool.CapacityBytes
        $current.ProvisionedBytes = $pool.ProvisionedBytes
        $current.VolumeCount = $pool.VolumeCount
        return $current
    }

    [bool] Test() {
        $plan = $this.Plan($this.FindPool())
        foreach ($difference in @($plan.Differences) + @($plan.Conflicts)) {
            Write-Verbose -Message "SparseStoragePool '$($plan.Target)': $difference"
        }
        return $plan.IsInDesiredState
    }

    [void] Set() {
        $plan = $this.Plan($this.FindPool())
        $plan.RequireNoConflicts()
        foreach ($step in $plan.Changes) {
            Write-Verbose -Message "SparseStoragePool '$($plan.Target)': $($step.Description)"
            switch ([string] $step.Kind) {
                'Register' { $null = Register-StoragePool -Name $this.Name -Path $this.Path -Confirm:$false -ErrorAction Stop }
                'Unregister' { $null = Unregister-StoragePool -Name $this.Name -Confirm:$false -ErrorAction Stop }
                default { throw "SparseStoragePool: unknown step '$($step.Kind)'." }
            }
        }
    }

    hidden [object] FindPool() {
        $poolName = $this.Name
        return Get-StoragePool -ErrorAction Stop |
            Where-Object -Property Name -EQ -Value $poolName |
            Select-Object -First 1
    }

    hidden [object] Plan([object] $pool) {
        $desiredType = Get-SparseStorageType 'SparseStorage.Core.Configuration.PoolDesiredState'
        $plannerType = Get-SparseStorageType 'SparseStorage.Core.Configuration.PoolPlanner'
        $desired = $desiredType::FromProperties(@{ Ensure = [string] $this.Ensure; Name = $this.Name; Path = $this.Path })
        return $plannerType::Plan($desired, $pool)
    }
}
