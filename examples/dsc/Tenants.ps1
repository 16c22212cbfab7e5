#Requires -Version 7.4
#Requires -Modules @{ ModuleName = 'PSDesiredStateConfiguration'; ModuleVersion = '2.0.7'; MaximumVersion = '2.99' }, SparseStorageDsc
<#
.SYNOPSIS
Brings a host to a desired state with the DSC resources of SparseStorageDsc (installed beside SparseStorage): one pool and two volumes, one encrypted with
a key file, one mounted.

.DESCRIPTION
The configuration is data: an ordered list of resource instances. Each is tested with Invoke-DscResource and set only
when it is not in its desired state, so running the script again changes nothing. The same properties work in any
tool that drives class-based DSC resources (a Configuration block, Azure Machine Configuration, DSC v3's PowerShell
adapter). Run it as root: loop devices, mounts and encryption are privileged. Nothing is prompted; the script stops
and exits non-zero at the first failure.

.EXAMPLE
sudo pwsh -NoProfile -File examples/dsc/Tenants.ps1 -PoolPath /srv/pools/tenants -KeyFile /etc/sparsestorage/db01.key
#>
[CmdletBinding()]
param(
    [string] $PoolPath = '/srv/pools/tenants',

    # The key of the encrypted volume: a root-only file, e.g. made with 'openssl rand -base64 48 > db01.key'.
    [string] $KeyFile = '/etc/sparsestorage/db01.key'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$configuration = @(
    @{ Resource = 'SparseStoragePool'; Properties = @{ Name = 'tenants'; Path = $PoolPath } }
    @{
        Resource   = 'SparseVolume'
        Properties = @{
            Name = 'web01'; Pool = 'tenants'; Size = '20GB'; Format = 'Raw'; FileSystem = 'Ext4'; Label = 'web01'
            MountPoint = '/srv/web01'
        }
    }
    @{
        Resource   = 'SparseVolume'
        Properties = @{
            Name = 'db01'; Pool = 'tenants'; Size = '50GB'; Format = 'Raw'; FileSystem = 'Xfs'
            Encrypted = $true; KeyFile = $KeyFile
        }
    }
)

try {
    foreach ($instance in $configuration) {
        # -ErrorAction Stop: Invoke-DscResource is a script-module function, which does not see this script's
        # $ErrorActionPreference; without it a failing Get/Test/Set method is only written as an error.
        $invoke = @{ Name = $instance.Resource; ModuleName = 'SparseStorageDsc'; Property = $instance.Properties; ErrorAction = 'Stop' }
        $label = "$($instance.Resource) $($instance.Properties.Name)"
        if ((Invoke-DscResource @invoke -Method Test).InDesiredState) {
            Write-Verbose "$label is in its desired state."
            continue
        }
        Write-Verbose "$label differs from its desired state; setting it."
        $null = Invoke-DscResource @invoke -Method Set
        if (-not (Invoke-DscResource @invoke -Method Test).InDesiredState) {
            throw "$label is still not in its desired state after Set."
        }
    }
}
catch {
    Write-Error -ErrorRecord $_ -ErrorAction Continue
    exit 1
}
