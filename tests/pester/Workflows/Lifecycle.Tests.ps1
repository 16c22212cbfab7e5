# Workflow 2, the volume lifecycle on one ext4 volume: create with a filesystem, mount, write, grow, shrink,
# dismount, remove. The grow and the shrink run dismounted (offline), which every kernel allows. Needs root (loop
# devices, mount); skipped for other users, failing instead when SPARSESTORAGE_INTEGRATION=require.

BeforeDiscovery {
    $RequireIntegration = $env:SPARSESTORAGE_INTEGRATION -eq 'require'
    $Tools = 'losetup', 'mount', 'umount', 'mkfs.ext4', 'e2fsck', 'resize2fs'
    $HasTools = @($Tools | Where-Object { -not (Get-Command -Name $_ -CommandType Application -ErrorAction Ignore) }).Count -eq 0
    $Skip = -not $RequireIntegration -and -not (((& id -u) -eq '0') -and $HasTools)
}

BeforeAll {
    . (Join-Path $PSScriptRoot '../common.ps1')
    $TestEnv = New-TestEnvironment -Name 'wf-lifecycle'
    $PoolName = 'wf-life'
    $PoolPath = (New-TestPool -Environment $TestEnv -Name $PoolName).Path
    $MountPoint = Join-Path $TestEnv.MountDirectory 'life'
}

AfterAll {
    Remove-TestEnvironment -Environment $TestEnv
}

Describe 'Volume lifecycle' -Skip:$Skip {
    It 'creates an ext4 volume, mounts and writes it, grows and shrinks it keeping the file, dismounts and removes it' {
        $volume = New-SparseVolume -Name 'life' -Pool $PoolName -Size 256MB -FileSystem Ext4 -Label 'life'
        $volume.FileSystem.ToString() | Should -Be 'Ext4'
        $volume.Label | Should -Be 'life'

        $mounted = $volume | Mount-SparseVolume -MountPoint $MountPoint
        $mounted.IsMounted | Should -BeTrue
        $mounted.MountPoint | Should -Be $MountPoint
        (Get-SparseVolume -LoopDevice $mounted.LoopDevice).Path | Should -Be $volume.Path
        $byName = @(Get-SparseVolume -LoopDevice ([System.IO.Path]::GetFileName($mounted.LoopDevice)))
        $byName | Should -HaveCount 1
        $byName[0].MountPoint | Should -Be $MountPoint
        $file = Join-Path $MountPoint 'data.bin'
        $bytes = [byte[]]::new(16MB)
        [System.Random]::new(2).NextBytes($bytes)
        [System.IO.File]::WriteAllBytes($file, $bytes)
        $hash = Get-Sha256 -Path $file
        Dismount-SparseVolume -Path $volume.Path
        (Get-SparseVolume -Path $volume.Path).AllocatedBytes | Should -BeGreaterOrEqual 16MB

        $grown = Resize-SparseVolume -Path $volume.Path -Size 512MB
        $grown.OldSizeBytes | Should -Be 256MB
        $grown.NewSizeBytes | Should -Be 512MB
        $grown.FileSystemSizeBytes | Should -BeGreaterThan 500MB
        (Get-Item -LiteralPath $volume.Path).Length | Should -Be 512MB

        $shrunk = Resize-SparseVolume -Path $volume.Path -Size 192MB -Confirm:$false
        $shrunk.NewSizeBytes | Should -Be 192MB
        $shrunk.FileSystemSizeBytes | Should -BeLessOrEqual 192MB
        (Get-Item -LiteralPath $volume.Path).Length | Should -Be 192MB
        Test-SparseVolume -Path $volume.Path -Quiet | Should -BeTrue

        $null = Mount-SparseVolume -Path $volume.Path -MountPoint $MountPoint -ReadOnly
        Get-Sha256 -Path $file | Should -Be $hash
        (Get-SparseVolume -Name 'life' -Pool $PoolName).IsReadOnly | Should -BeTrue
        $dismounted = Dismount-SparseVolume -Name 'life' -Pool $PoolName -PassThru
        $dismounted.IsMounted | Should -BeFalse
        $dismounted.IsAttached | Should -BeFalse

        Remove-SparseVolume -Name 'life' -Pool $PoolName -Confirm:$false
        Test-Path -LiteralPath $volume.Path | Should -BeFalse
        Get-ChildItem -LiteralPath $PoolPath -Force | Should -BeNullOrEmpty
        Get-LoopDeviceUnder -Directory $PoolPath -Environment $TestEnv | Should -BeNullOrEmpty
        Get-MountPointUnder -Directory $TestEnv.Root | Should -BeNullOrEmpty
    }
}
