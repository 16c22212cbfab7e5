# Workflow 5, encryption at rest with key rotation: protect a volume with a key file, mount it with the key, add a
# second key file, retire the first, open with the second, remove the protection. Needs root and cryptsetup, and on
# a host without device-mapper qemu-storage-daemon and FUSE; skipped otherwise, failing instead when
# SPARSESTORAGE_INTEGRATION=require. Keys come from files only, and every High-impact step passes -Confirm:$false.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot '../prerequisites.ps1')
    $Skip = -not $RequireIntegration -and -not (((& id -u) -eq '0') -and
        (Test-Tool 'losetup', 'mount', 'umount', 'mkfs.ext4', 'cryptsetup') -and ($HasDeviceMapper -or $HasUserspace))
}

BeforeAll {
    . (Join-Path $PSScriptRoot '../common.ps1')
    $TestEnv = New-TestEnvironment -Name 'wf-encryption'
    $PoolName = 'wf-crypt'
    $PoolPath = (New-TestPool -Environment $TestEnv -Name $PoolName).Path
    $MountPoint = Join-Path $TestEnv.MountDirectory 'vault'
    $KeyDirectory = (New-Item -ItemType Directory -Path (Join-Path $TestEnv.Root 'keys') -ErrorAction Stop).FullName
}

AfterAll {
    try {
        # Remove-TestEnvironment only dismounts; an unlocked volume would refuse removal.
        foreach ($volume in @(Get-SparseVolume -Pool $PoolName -ErrorAction SilentlyContinue | Where-Object Encryption -NE 'None')) {
            try {
                Lock-Volume -Path $volume.Path -Dismount -Force -Confirm:$false -ErrorAction Stop
            }
            catch {
                Write-Warning "Test cleanup: lock $($volume.Path): $_"
            }
        }
    }
    finally {
        Remove-TestEnvironment -Environment $TestEnv
    }
}

Describe 'Encryption with key rotation' -Skip:$Skip {
    It 'protects, mounts with the key, rotates key files, and unprotects with the files intact' {
        $oldKey = New-KeyFile -Directory $KeyDirectory -Name 'vault-2024.key'
        $newKey = New-KeyFile -Directory $KeyDirectory -Name 'vault-2025.key'
        $volume = New-SparseVolume -Name 'vault' -Pool $PoolName -Size 64MB -FileSystem Ext4

        $protected = $volume | Protect-Volume -KeyFile $oldKey -IterationTime 100 -Confirm:$false -PassThru
        $protected.Encryption | Should -Not -Be 'None'
        $protected.KeySlotCount | Should -Be 1

        $null = Mount-SparseVolume -Path $volume.Path -MountPoint $MountPoint -KeyFile $oldKey
        $file = Join-Path $MountPoint 'secret.txt'
        Set-Content -LiteralPath $file -Value 'tenant data' -ErrorAction Stop
        Dismount-SparseVolume -Path $volume.Path
        Lock-Volume -Path $volume.Path
        (Get-SparseVolume -Path $volume.Path).IsUnlocked | Should -BeFalse

        $rotated = Add-VolumeKey -Path $volume.Path -KeyFile $oldKey -NewKeyFile $newKey -IterationTime 100 -PassThru
        $rotated.KeySlotCount | Should -Be 2
        $retired = Remove-VolumeKey -Path $volume.Path -KeyFile $oldKey -Confirm:$false -PassThru
        $retired.KeySlotCount | Should -Be 1

        { Mount-SparseVolume -Path $volume.Path -MountPoint $MountPoint -KeyFile $oldKey -ErrorAction Stop } |
            Should -Throw -ErrorId 'WrongKey,SparseStorage.PowerShell.Commands.MountSparseVolumeCommand'
        $null = Mount-SparseVolume -Path $volume.Path -MountPoint $MountPoint -KeyFile $newKey -ReadOnly
        Get-Content -LiteralPath $file | Should -Be 'tenant data'
        Dismount-SparseVolume -Path $volume.Path
        Lock-Volume -Path $volume.Path

        $plain = Unprotect-Volume -Path $volume.Path -KeyFile $newKey -Confirm:$false -PassThru
        $plain.Encryption | Should -Be 'None'
        $plain.FileSystem.ToString() | Should -Be 'Ext4'
        $null = Mount-SparseVolume -Path $volume.Path -MountPoint $MountPoint -ReadOnly
        Get-Content -LiteralPath $file | Should -Be 'tenant data'
        Dismount-SparseVolume -Path $volume.Path

        Remove-SparseVolume -Path $volume.Path -Confirm:$false
        Get-ChildItem -LiteralPath $PoolPath -Force | Should -BeNullOrEmpty
        Get-MountPointUnder -Directory $TestEnv.Root | Should -BeNullOrEmpty
    }
}
