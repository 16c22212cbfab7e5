# Workflow 4, backup and archive of one raw volume: a full backup, an incremental one, restores of both points,
# then an archive that replaces the volume and is expanded back with its holes. The volume is written directly, not
# mounted, so no root is needed; the archive needs tar and zstd.

BeforeDiscovery {
    $RequireIntegration = $env:SPARSESTORAGE_INTEGRATION -eq 'require'
    $SkipArchive = -not $RequireIntegration -and
        @('tar', 'zstd' | Where-Object { -not (Get-Command -Name $_ -CommandType Application -ErrorAction Ignore) }).Count -gt 0
}

BeforeAll {
    . (Join-Path $PSScriptRoot '../common.ps1')
    $TestEnv = New-TestEnvironment -Name 'wf-backup'
    $PoolName = 'wf-backup'
    $PoolPath = (New-TestPool -Environment $TestEnv -Name $PoolName).Path
    $BackupRoot = (New-Item -ItemType Directory -Path (Join-Path $TestEnv.Root 'backup') -ErrorAction Stop).FullName
    $ArchiveRoot = (New-Item -ItemType Directory -Path (Join-Path $TestEnv.Root 'archive') -ErrorAction Stop).FullName
}

AfterAll {
    # The backup and archive folders are inside the test directory, which Remove-TestEnvironment deletes.
    Remove-TestEnvironment -Environment $TestEnv
}

Describe 'Backup and archive' {
    It 'backs up fully, then incrementally, and restores each point byte for byte' {
        $volume = New-SparseVolume -Name 'db' -Pool $PoolName -Size 64MB
        Write-Pattern -Path $volume.Path -Offset 1MB -Length 2MB -Seed 1
        $atFull = Get-Sha256 -Path $volume.Path

        $full = $volume | Backup-SparseVolume -Destination $BackupRoot
        $full.Kind.ToString() | Should -Be 'Full'

        Write-Pattern -Path $volume.Path -Offset 40MB -Length 1MB -Seed 2
        $atIncremental = Get-Sha256 -Path $volume.Path
        $incremental = Backup-SparseVolume -Path $volume.Path -Destination $BackupRoot
        $incremental.Kind.ToString() | Should -Be 'Incremental'
        $incremental.Parent | Should -Be $full.Name
        $incremental.StoredBytes | Should -BeLessOrEqual 1MB -Because 'only the changed block is stored again'
        (@(Get-VolumeBackup -Destination $BackupRoot -Volume 'db').Name -join ',') | Should -Be "$($full.Name),$($incremental.Name)"

        $restored = $incremental | Restore-SparseVolume -Destination 'db-restored' -Confirm:$false
        $restored.Path | Should -Be (Join-Path $PoolPath 'db-restored.img')
        Get-Sha256 -Path $restored.Path | Should -Be $atIncremental
        $restored.AllocatedBytes | Should -BeLessOrEqual 8MB -Because 'holes come back as holes'

        Restore-SparseVolume -Backup $full.BackupPath -Confirm:$false | Out-Null
        Get-Sha256 -Path $volume.Path | Should -Be $atFull -Because 'without -Destination the volume itself goes back'

        $full | Remove-VolumeBackup -IncludeDependants -Confirm:$false
        Get-VolumeBackup -Destination $BackupRoot -Volume 'db' | Should -BeNullOrEmpty
        Get-SparseVolume -Pool $PoolName | Remove-SparseVolume -Confirm:$false
        Get-ChildItem -LiteralPath $PoolPath -Force | Should -BeNullOrEmpty
    }

    It 'archives a volume, removes it, and expands the archive back into the pool sparse and identical' -Skip:$SkipArchive {
        $volume = New-SparseVolume -Name 'cold' -Pool $PoolName -Size 256MB
        Write-Pattern -Path $volume.Path -Offset 1MB -Length 1MB -Seed 11
        Write-Pattern -Path $volume.Path -Offset 200MB -Length 1MB -Seed 12
        $hash = Get-Sha256 -Path $volume.Path

        $archive = $volume | Compress-SparseVolume -Destination $ArchiveRoot
        $archive.Path | Should -Be (Join-Path $ArchiveRoot 'cold.img.tar.zst')
        $archive.SizeBytes | Should -Be 256MB
        $archive.StoredBytes | Should -BeLessThan 8MB

        Remove-SparseVolume -Path $volume.Path -Confirm:$false
        Test-Path -LiteralPath $volume.Path | Should -BeFalse

        $expanded = $archive | Expand-SparseVolume -Destination $PoolPath
        $expanded.Path | Should -Be $volume.Path -Because 'into a pool directory the volume takes the name it was archived with'
        $expanded.SizeBytes | Should -Be 256MB
        Get-Sha256 -Path $expanded.Path | Should -Be $hash
        $expanded.AllocatedBytes | Should -BeLessOrEqual 8MB

        Remove-SparseVolume -Path $expanded.Path -Confirm:$false
        Remove-Item -LiteralPath $archive.Path
        Get-ChildItem -LiteralPath $PoolPath -Force | Should -BeNullOrEmpty
        Get-ChildItem -LiteralPath $ArchiveRoot -Force | Should -BeNullOrEmpty
    }
}
