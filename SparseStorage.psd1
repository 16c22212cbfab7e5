@{
    RootModule           = 'SparseStorage.PowerShell.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '5d0f3c52-8a3e-4b8e-9a55-0e6f3f7c2b19'
    Author               = 'SparseStorage contributors'
    CompanyName          = 'SparseStorage'
    Copyright            = '(c) SparseStorage contributors. MIT License.'
    Description          = 'Thin-provisioned virtual disks from ordinary files on Linux: pools with overcommit accounting, raw and qcow2 volumes, filesystems, loop and FUSE mounts, snapshots, backups, and export over ATA over Ethernet.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('SparseStorage.format.ps1xml')
    TypesToProcess       = @('SparseStorage.types.ps1xml')
    CmdletsToExport      = @(
        'Get-StorageHost'
        'Register-StoragePool'
        'Get-StoragePool'
        'Unregister-StoragePool'
        'New-SparseVolume'
        'Get-SparseVolume'
        'Remove-SparseVolume'
        'Mount-SparseVolume'
        'Dismount-SparseVolume'
        'Resize-SparseVolume'
        'Copy-SparseVolume'
        'Optimize-SparseVolume'
        'Test-SparseVolume'
        'New-VolumeSnapshot'
        'Get-VolumeSnapshot'
        'Restore-VolumeSnapshot'
        'Remove-VolumeSnapshot'
        'Backup-SparseVolume'
        'Restore-SparseVolume'
        'Get-VolumeBackup'
        'Remove-VolumeBackup'
        'Compress-SparseVolume'
        'Expand-SparseVolume'
        'Protect-Volume'
        'Unprotect-Volume'
        'Unlock-Volume'
        'Lock-Volume'
        'Add-VolumeKey'
        'Remove-VolumeKey'
        'Export-AtaoeDisk'
        'Get-AtaoeExport'
        'Stop-AtaoeExport'
        'Find-AtaoeDisk'
        'Add-AtaoeDiskToGroup'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('Linux', 'Storage', 'Sparse', 'qcow2', 'LoopDevice', 'ThinProvisioning', 'AoE', 'vblade', 'LVM')
            LicenseUri = 'https://opensource.org/licenses/MIT'
        }
    }
}
