# Workflow 3, snapshots and clones of one raw volume: snapshot, change, full clone, revert, delete; then a linked
# clone of a base image (qemu-img). The volumes are written directly, not mounted, so no root is needed.

BeforeDiscovery {
    $RequireIntegration = $env:SPARSESTORAGE_INTEGRATION -eq 'require'
    $SkipLinked = -not $RequireIntegration -and -not (Get-Command -Name 'qemu-img' -CommandType Application -ErrorAction Ignore)
}

BeforeAll {
    . (Join-Path $PSScriptRoot '../common.ps1')
    $TestEnv = New-TestEnvironment -Name 'wf-snapshots'
    $PoolName = 'wf-snap'
    $PoolPath = (New-TestPool -Environment $TestEnv -Name $PoolName).Path
}

AfterAll {
    try {
        # Linked clones first: a base image refuses removal while a clone reads through it.
        foreach ($clone in @(Get-SparseVolume -Pool $PoolName -ErrorAction SilentlyContinue | Where-Object BackingFile)) {
            Remove-SparseVolume -Path $clone.Path -Force -ErrorAction Continue
        }
    }
    finally {
        Remove-TestEnvironment -Environment $TestEnv
    }
}

Describe 'Snapshots and clones' {
    It 'snapshots a volume, clones it with its holes, reverts it to the snapshot and deletes the snapshot' {
        $volume = New-SparseVolume -Name 'app' -Pool $PoolName -Size 128MB
        Write-Pattern -Path $volume.Path -Offset 1MB -Length 1MB -Seed 1
        Write-Pattern -Path $volume.Path -Offset 100MB -Length 1MB -Seed 2
        $atSnapshot = Get-Sha256 -Path $volume.Path

        $snapshot = $volume | New-VolumeSnapshot -Name 'before-upgrade'
        $snapshot.Name | Should -Be 'before-upgrade'
        $snapshot.VolumePath | Should -Be $volume.Path
        (Get-SparseVolume -Path $volume.Path).SnapshotCount | Should -Be 1

        Write-Pattern -Path $volume.Path -Offset 1MB -Length 1MB -Seed 3
        $changed = Get-Sha256 -Path $volume.Path
        $changed | Should -Not -Be $atSnapshot

        $clone = Copy-SparseVolume -Path $volume.Path -Destination 'app-clone'
        $clone.Path | Should -Be (Join-Path $PoolPath 'app-clone.img')
        Get-Sha256 -Path $clone.Path | Should -Be $changed
        $clone.AllocatedBytes | Should -BeLessThan 8MB -Because 'a full clone keeps the holes'
        $clone.SnapshotCount | Should -Be 0 -Because 'snapshots belong to their volume, not to its copies'

        $reverted = Get-VolumeSnapshot -VolumePath $volume.Path -Name 'before-upgrade' |
            Restore-VolumeSnapshot -Confirm:$false -PassThru
        $reverted.Path | Should -Be $volume.Path
        Get-Sha256 -Path $volume.Path | Should -Be $atSnapshot
        Get-Sha256 -Path $clone.Path | Should -Be $changed -Because 'the clone is independent of the volume'

        Get-VolumeSnapshot -VolumePath $volume.Path | Remove-VolumeSnapshot -Confirm:$false
        Get-VolumeSnapshot -VolumePath $volume.Path | Should -BeNullOrEmpty
        Get-Sha256 -Path $volume.Path | Should -Be $atSnapshot -Because 'deleting a snapshot leaves the volume as it is'

        Remove-SparseVolume -Path $clone.Path -Confirm:$false
        Remove-SparseVolume -Path $volume.Path -Confirm:$false
        Get-ChildItem -LiteralPath $PoolPath -Force | Should -BeNullOrEmpty -Because 'the .snapshots folder goes with the last snapshot'
    }

    It 'makes linked clones that read through a base image and diverge from it, removed before their base' -Skip:$SkipLinked {
        $base = New-SparseVolume -Name 'golden' -Pool $PoolName -Size 64MB
        Write-Pattern -Path $base.Path -Offset 1MB -Length 4MB -Seed 11
        $baseHash = Get-Sha256 -Path $base.Path

        $clones = 'tenant1', 'tenant2' | ForEach-Object { Copy-SparseVolume -Path $base.Path -Destination $_ -Linked }
        foreach ($clone in $clones) {
            $clone.Format.ToString() | Should -Be 'Qcow2'
            $clone.BackingFile | Should -Be $base.Path
            $clone.SizeBytes | Should -Be 64MB
            $clone.AllocatedBytes | Should -BeLessThan 4MB -Because 'a linked clone stores only what differs from its base'
        }
        { Remove-SparseVolume -Path $base.Path -Force -ErrorAction Stop } |
            Should -Throw -ErrorId 'VolumeInUse,SparseStorage.PowerShell.Commands.RemoveSparseVolumeCommand'

        $snapshot = New-VolumeSnapshot -VolumePath $clones[0].Path -Name 'tenant1-initial'
        $snapshot.Kind.ToString() | Should -Be 'Qcow2Internal'
        Remove-VolumeSnapshot -VolumePath $clones[0].Path -Name 'tenant1-initial' -Confirm:$false

        $clones | Remove-SparseVolume -Confirm:$false
        Get-Sha256 -Path $base.Path | Should -Be $baseHash -Because 'clones never write to their base'
        Remove-SparseVolume -Path $base.Path -Confirm:$false
        Get-ChildItem -LiteralPath $PoolPath -Force | Should -BeNullOrEmpty
    }
}
