# Snapshots, copies and linked clones, Optimize-SparseVolume and Test-SparseVolume end to end. Anything that mounts
# (a frozen snapshot, a restore refused while mounted, fstrim of deleted files) needs root and is skipped for other
# users, and fails instead of skipping when SPARSESTORAGE_INTEGRATION=require (as the xunit integration tests do).
# Snapshots, copies and checks of volumes that are not in use need no root and always run; the qcow2 and linked-clone
# tests need qemu-img (and qemu-io to write into a qcow2 image without mounting it).
#
# build.ps1 runs this suite in 'pwsh -NonInteractive', where no confirmation can be asked: every Restore- and
# Remove-VolumeSnapshot (High impact) and Remove-SparseVolume here passes -Confirm:$false or -Force.
#
# Every test removes what it made in AfterEach (linked clones before their base) and then checks that the pool
# directory is empty again, hidden .snapshots folder and temporary .partial- files included.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'prerequisites.ps1')

    $SkipQemuImg = -not $RequireIntegration -and -not (Test-Tool 'qemu-img')
    $SkipQcow2Data = -not $RequireIntegration -and -not (Test-Tool 'qemu-img', 'qemu-io')
    $SkipFreeze = -not $RequireIntegration -and -not (Test-Tool 'losetup', 'mount', 'umount', 'mkfs.ext4', 'fsfreeze')
    $SkipTrim = -not $RequireIntegration -and -not (Test-Tool 'losetup', 'mount', 'umount', 'mkfs.ext4', 'fstrim', 'e2fsck')
    $FreshVolumeCases = @(
        @{ FileSystem = 'None'; SkipCase = $false }
        @{ FileSystem = 'Ext4'; SkipCase = -not $RequireIntegration -and -not (Test-Tool 'mkfs.ext4', 'e2fsck') }
    )
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    $TestEnv = New-TestEnvironment -Name 'snapshots'
    $PoolName = 'pester-snap'
    $PoolPath = (New-TestPool -Environment $TestEnv -Name $PoolName).Path

    # Write-Pattern (common.ps1) writes at least 1 MiB in, so a volume still reads as holding no filesystem; its
    # Seed 0 writes zeros, which stay allocated on the pool's disk: a write of zeros is still a write.

    # What a qcow2 volume's guest sees, without mounting it: qemu-io writes into the image, qemu-img convert reads
    # the guest data out into a raw file.
    function Write-GuestPattern([string] $Path, [string] $Pattern) {
        $output = & qemu-io -f qcow2 -c "write -P $Pattern 1M 1M" $Path 2>&1
        if ($LASTEXITCODE -ne 0) {
            throw "qemu-io failed ($LASTEXITCODE): $output"
        }
    }

    function Get-GuestSha256([string] $Path) {
        $raw = Join-Path $TestDrive ('guest-{0}.raw' -f [guid]::NewGuid().ToString('N'))
        try {
            $output = & qemu-img convert -f qcow2 -O raw $Path $raw 2>&1
            if ($LASTEXITCODE -ne 0) {
                throw "qemu-img convert failed ($LASTEXITCODE): $output"
            }
            Get-Sha256 -Path $raw
        }
        finally {
            Remove-Item -LiteralPath $raw -Force -ErrorAction Ignore
        }
    }

    # Takes down and removes every volume of the test pool, linked clones before their bases (a base refuses
    # removal while a clone reads through it), then checks that nothing at all is left in the pool directory.
    function Clear-TestPool {
        $volumes = @(Get-SparseVolume -Pool $PoolName -ErrorAction SilentlyContinue) |
            Sort-Object -Property @{ Expression = { $null -eq $_.BackingFile } }
        foreach ($volume in $volumes) {
            try {
                Dismount-SparseVolume -Path $volume.Path -Confirm:$false -ErrorAction Stop
                Remove-SparseVolume -Path $volume.Path -Force -ErrorAction Stop
            }
            catch {
                Write-Warning "Test cleanup: volume $($volume.Path): $_"
            }
        }
        Get-ChildItem -LiteralPath $PoolPath -Force | Should -BeNullOrEmpty -Because 'each test leaves nothing behind'
    }
}

AfterAll {
    Remove-TestEnvironment -Environment $TestEnv
}

Describe 'Snapshots of a volume that is not in use' {
    AfterEach {
        Clear-TestPool
    }

    It 'brings a raw volume back to its snapshot: the image hashes as it did when the snapshot was taken' {
        $volume = New-SparseVolume -Name 'snap-raw' -Pool $PoolName -Size 64MB
        Write-Pattern -Path $volume.Path -Offset 1MB -Length 1MB -Seed 1
        Write-Pattern -Path $volume.Path -Offset 40MB -Length 1MB -Seed 2
        $atSnapshot = Get-Sha256 -Path $volume.Path

        $snapshot = New-VolumeSnapshot -Volume 'snap-raw' -Pool $PoolName -Name 'before-change'

        $snapshot | Should -BeOfType 'SparseStorage.Core.Snapshots.VolumeSnapshot'
        $snapshot.Volume | Should -Be 'snap-raw'
        $snapshot.VolumePath | Should -Be $volume.Path
        $snapshot.Pool | Should -Be $PoolName
        $snapshot.Name | Should -Be 'before-change'
        $snapshot.Id | Should -Be '1'
        $snapshot.Kind.ToString() | Should -BeIn @('Reflink', 'SparseCopy')
        $snapshot.SizeBytes | Should -Be 64MB
        $folder = [System.IO.Path]::Combine($PoolPath, '.snapshots', 'snap-raw.img')
        $snapshot.SnapshotPath | Should -Be ([System.IO.Path]::Combine($folder, 'before-change.img'))
        Test-Path -LiteralPath ([System.IO.Path]::Combine($folder, 'before-change.json')) -PathType Leaf | Should -BeTrue
        Get-Sha256 -Path $snapshot.SnapshotPath | Should -Be $atSnapshot
        (Get-SparseVolume -Name 'snap-raw' -Pool $PoolName).SnapshotCount | Should -Be 1

        Write-Pattern -Path $volume.Path -Offset 1MB -Length 1MB -Seed 3
        $changed = Get-Sha256 -Path $volume.Path
        $changed | Should -Not -Be $atSnapshot

        Restore-VolumeSnapshot -VolumePath $volume.Path -Name 'before-change' -WhatIf | Should -BeNullOrEmpty
        Get-Sha256 -Path $volume.Path | Should -Be $changed -Because '-WhatIf changes nothing'

        $restored = Restore-VolumeSnapshot -VolumePath $volume.Path -Name 'before-change' -Confirm:$false -PassThru

        $restored | Should -BeOfType 'SparseStorage.Core.Volumes.SparseVolume'
        $restored.Path | Should -Be $volume.Path
        Get-Sha256 -Path $volume.Path | Should -Be $atSnapshot
        (Get-VolumeSnapshot -VolumePath $volume.Path).Name | Should -Be 'before-change' -Because 'a restore keeps the snapshot'
    }

    It 'brings a qcow2 volume back to its internal snapshot: the guest data hash as they did' -Skip:$SkipQcow2Data {
        $volume = New-SparseVolume -Name 'snap-qcow2' -Pool $PoolName -Size 64MB -Format Qcow2
        Write-GuestPattern -Path $volume.Path -Pattern '0x5a'
        $atSnapshot = Get-GuestSha256 -Path $volume.Path

        $snapshot = New-VolumeSnapshot -VolumePath $volume.Path -Name 'before-change'

        $snapshot.Kind.ToString() | Should -Be 'Qcow2Internal'
        $snapshot.SnapshotPath | Should -BeNullOrEmpty
        $snapshot.SizeBytes | Should -Be 64MB
        (& qemu-img snapshot -l $volume.Path) -join "`n" | Should -Match "(?m)^$($snapshot.Id)\s+before-change\s"
        (Get-SparseVolume -Path $volume.Path).SnapshotCount | Should -Be 1

        Write-GuestPattern -Path $volume.Path -Pattern '0xa5'
        Get-GuestSha256 -Path $volume.Path | Should -Not -Be $atSnapshot

        Restore-VolumeSnapshot -VolumePath $volume.Path -Name 'before-change' -Force

        Get-GuestSha256 -Path $volume.Path | Should -Be $atSnapshot
        (Get-VolumeSnapshot -VolumePath $volume.Path).Name | Should -Be 'before-change'
    }

    It 'Get-VolumeSnapshot | Where-Object Name -like ... | Remove-VolumeSnapshot removes just those snapshots' {
        $volume = New-SparseVolume -Name 'snap-pipe' -Pool $PoolName -Size 16MB
        foreach ($name in 'nightly-1', 'nightly-2', 'weekly-1') {
            $null = New-VolumeSnapshot -VolumePath $volume.Path -Name $name
        }
        (Get-SparseVolume -Name 'snap-pipe' -Pool $PoolName).SnapshotCount | Should -Be 3

        $removed = Get-VolumeSnapshot -Volume 'snap-pipe' -Pool $PoolName | Where-Object Name -like 'nightly-*' |
            Remove-VolumeSnapshot -Confirm:$false -PassThru

        ($removed.Name | Sort-Object) -join ',' | Should -Be 'nightly-1,nightly-2'
        (Get-VolumeSnapshot -VolumePath $volume.Path).Name | Should -Be 'weekly-1'
        $folder = [System.IO.Path]::Combine($PoolPath, '.snapshots', 'snap-pipe.img')
        (Get-ChildItem -LiteralPath $folder -Force).Name | Sort-Object | Should -Be @('weekly-1.img', 'weekly-1.json')

        # A piped volume binds its Path to -VolumePath; -Name is given, so the volume's own Name is not taken as the
        # snapshot's name.
        Get-SparseVolume -Name 'snap-pipe' -Pool $PoolName | Remove-VolumeSnapshot -Name 'weekly-*' -Confirm:$false

        Get-VolumeSnapshot -VolumePath $volume.Path | Should -BeNullOrEmpty
        Test-Path -LiteralPath ([System.IO.Path]::Combine($PoolPath, '.snapshots')) | Should -BeFalse -Because 'empty snapshot folders are removed'
    }

    It 'refuses a name the volume already has: SnapshotExists, and keeps the first snapshot' {
        $volume = New-SparseVolume -Name 'snap-twice' -Pool $PoolName -Size 16MB
        $first = New-VolumeSnapshot -VolumePath $volume.Path -Name 'once'

        $err = { New-VolumeSnapshot -VolumePath $volume.Path -Name 'once' -ErrorAction Stop } |
            Should -Throw -ErrorId 'SnapshotExists,SparseStorage.PowerShell.Commands.NewVolumeSnapshotCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'ResourceExists'
        $listed = @(Get-VolumeSnapshot -VolumePath $volume.Path)
        $listed.Count | Should -Be 1
        $listed[0].Id | Should -Be $first.Id
    }

    It 'reports a name the volume does not have: SnapshotNotFound, listing the names it has' {
        $volume = New-SparseVolume -Name 'snap-unknown' -Pool $PoolName -Size 16MB
        $null = New-VolumeSnapshot -VolumePath $volume.Path -Name 'known'

        $err = { Restore-VolumeSnapshot -VolumePath $volume.Path -Name 'ghost' -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'SnapshotNotFound,SparseStorage.PowerShell.Commands.RestoreVolumeSnapshotCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.Exception.Message | Should -BeLike "*'ghost'*its snapshots are: known.*"
        { Get-VolumeSnapshot -VolumePath $volume.Path -Name 'ghost' -ErrorAction Stop } |
            Should -Throw -ErrorId 'SnapshotNotFound,SparseStorage.PowerShell.Commands.GetVolumeSnapshotCommand'
        { Remove-VolumeSnapshot -VolumePath $volume.Path -Name 'ghost' -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'SnapshotNotFound,SparseStorage.PowerShell.Commands.RemoveVolumeSnapshotCommand'
        (Get-VolumeSnapshot -VolumePath $volume.Path).Name | Should -Be 'known'
    }

    It 'refuses a name of digits only: InvalidSnapshotName, also under -WhatIf; -WhatIf takes no snapshot' {
        $volume = New-SparseVolume -Name 'snap-names' -Pool $PoolName -Size 16MB

        $err = { New-VolumeSnapshot -VolumePath $volume.Path -Name '42' -WhatIf -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidSnapshotName,SparseStorage.PowerShell.Commands.NewVolumeSnapshotCommand' -PassThru
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'

        New-VolumeSnapshot -VolumePath $volume.Path -Name 'fine' -WhatIf | Should -BeNullOrEmpty

        Get-VolumeSnapshot -VolumePath $volume.Path | Should -BeNullOrEmpty
        Test-Path -LiteralPath ([System.IO.Path]::Combine($PoolPath, '.snapshots')) | Should -BeFalse
    }
}

Describe 'Snapshots of a mounted volume' -Skip:(-not $IsRoot -and -not $RequireIntegration) {
    AfterEach {
        Clear-TestPool
    }

    It 'freezes it for the snapshot, refuses to restore it while mounted (VolumeInUse), and restores it after a dismount' -Skip:$SkipFreeze {
        $mountPoint = Join-Path $TestEnv.MountDirectory 'snap-mounted'
        $volume = New-SparseVolume -Name 'snap-mounted' -Pool $PoolName -Size 64MB -FileSystem Ext4 |
            Mount-SparseVolume -MountPoint $mountPoint
        $file = Join-Path $mountPoint 'data.bin'
        Write-RandomFile -Path $file -Length 4MB -Seed 11
        $atSnapshot = Get-Sha256 -Path $file

        $snapshot = Get-SparseVolume -Name 'snap-mounted' -Pool $PoolName | New-VolumeSnapshot -Name 'before-upgrade'

        $snapshot.Name | Should -Be 'before-upgrade'
        $snapshot.VolumePath | Should -Be $volume.Path
        # Writes go through again, so the filesystem was thawed.
        Write-RandomFile -Path $file -Length 4MB -Seed 12
        Set-Content -LiteralPath (Join-Path $mountPoint 'after.txt') -Value 'written after the snapshot' -ErrorAction Stop
        Get-Sha256 -Path $file | Should -Not -Be $atSnapshot

        $err = { Restore-VolumeSnapshot -VolumePath $volume.Path -Name 'before-upgrade' -Force -ErrorAction Stop } |
            Should -Throw -ErrorId 'VolumeInUse,SparseStorage.PowerShell.Commands.RestoreVolumeSnapshotCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'ResourceBusy'
        $err.Exception.Message | Should -BeLike "*$mountPoint*"
        Test-Path -LiteralPath (Join-Path $mountPoint 'after.txt') | Should -BeTrue -Because 'a refused restore changes nothing'

        Dismount-SparseVolume -Path $volume.Path
        Restore-VolumeSnapshot -VolumePath $volume.Path -Name 'before-upgrade' -Confirm:$false
        $null = Mount-SparseVolume -Path $volume.Path -MountPoint $mountPoint -ReadOnly

        Get-Sha256 -Path $file | Should -Be $atSnapshot
        Test-Path -LiteralPath (Join-Path $mountPoint 'after.txt') | Should -BeFalse
        Dismount-SparseVolume -Path $volume.Path
    }

    It 'takes a snapshot of a volume whose writes cannot be paused only with -AllowUnpausedWrites, which -Force does not stand in for' -Skip:$SkipFreeze {
        $volume = New-SparseVolume -Name 'snap-loop' -Pool $PoolName -Size 64MB -FileSystem Ext4
        $device = (& losetup --find --show $volume.Path).Trim()
        try {
            $err = { New-VolumeSnapshot -VolumePath $volume.Path -Name 'live' -Force -ErrorAction Stop } |
                Should -Throw -ErrorId 'VolumeInUse,SparseStorage.PowerShell.Commands.NewVolumeSnapshotCommand' -PassThru
            $err.Exception.Message | Should -BeLike "*$device*-AllowUnpausedWrites*"
            Get-VolumeSnapshot -VolumePath $volume.Path | Should -BeNullOrEmpty -Because '-Force only skips confirmation'

            $snapshot = New-VolumeSnapshot -VolumePath $volume.Path -Name 'live' -AllowUnpausedWrites -WarningVariable warnings

            $snapshot.Name | Should -Be 'live'
            $warnings | Should -HaveCount 1
            "$warnings" | Should -BeLike "*cannot be paused*snapshot 'live' may hold a filesystem that needs a check*"
        }
        finally {
            & losetup --detach $device
        }
        Remove-VolumeSnapshot -VolumePath $volume.Path -Name 'live' -Force
    }
}

Describe 'Copying volumes' {
    AfterEach {
        Clear-TestPool
    }

    It 'makes a full copy beside the source that hashes the same and is just as sparse; -WhatIf makes none' {
        $source = New-SparseVolume -Name 'copy-src' -Pool $PoolName -Size 256MB
        Write-Pattern -Path $source.Path -Offset 1MB -Length 1MB -Seed 21
        Write-Pattern -Path $source.Path -Offset 200MB -Length 1MB -Seed 22
        $source = Get-SparseVolume -Name 'copy-src' -Pool $PoolName
        $destination = Join-Path $PoolPath 'copy-dst.img'

        Copy-SparseVolume -Name 'copy-src' -Pool $PoolName -Destination 'copy-dst' -WhatIf | Should -BeNullOrEmpty
        Test-Path -LiteralPath $destination | Should -BeFalse

        $copy = Copy-SparseVolume -Name 'copy-src' -Pool $PoolName -Destination 'copy-dst'

        $copy | Should -BeOfType 'SparseStorage.Core.Volumes.SparseVolume'
        $copy.Name | Should -Be 'copy-dst'
        $copy.Path | Should -Be $destination
        $copy.Pool | Should -Be $PoolName
        $copy.Format.ToString() | Should -Be 'Raw'
        $copy.SizeBytes | Should -Be 256MB
        Get-Sha256 -Path $copy.Path | Should -Be (Get-Sha256 -Path $source.Path)
        $copy.AllocatedBytes | Should -BeLessThan 8MB -Because 'only the 2 MiB of data are copied; the holes stay holes'
        $copy.AllocatedBytes | Should -BeLessOrEqual ($source.AllocatedBytes + 1MB)
    }

    It 'refuses an existing destination without -Replace: VolumeExists; replaces it with -Replace' {
        $source = New-SparseVolume -Name 'copy-new' -Pool $PoolName -Size 16MB
        Write-Pattern -Path $source.Path -Offset 1MB -Length 64KB -Seed 31
        $existing = New-SparseVolume -Name 'copy-old' -Pool $PoolName -Size 8MB
        Write-Pattern -Path $existing.Path -Offset 1MB -Length 64KB -Seed 32
        $oldHash = Get-Sha256 -Path $existing.Path

        $err = { Copy-SparseVolume -Path $source.Path -Destination 'copy-old' -ErrorAction Stop } |
            Should -Throw -ErrorId 'VolumeExists,SparseStorage.PowerShell.Commands.CopySparseVolumeCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'ResourceExists'
        Get-Sha256 -Path $existing.Path | Should -Be $oldHash

        $replaced = Get-SparseVolume -Name 'copy-new' -Pool $PoolName | Copy-SparseVolume -Destination 'copy-old' -Replace

        $replaced.Path | Should -Be $existing.Path
        $replaced.SizeBytes | Should -Be 16MB
        Get-Sha256 -Path $existing.Path | Should -Be (Get-Sha256 -Path $source.Path)
        Get-ChildItem -LiteralPath $PoolPath -Force | Where-Object Name -like '*.partial-*' | Should -BeNullOrEmpty
    }

    It 'refuses a destination outside every pool: PathOutsidePool, and creates nothing' {
        $source = New-SparseVolume -Name 'copy-confined' -Pool $PoolName -Size 16MB
        $outside = Join-Path $TestEnv.Root 'outside.img'

        $err = { Copy-SparseVolume -Path $source.Path -Destination $outside -ErrorAction Stop } |
            Should -Throw -ErrorId 'PathOutsidePool,SparseStorage.PowerShell.Commands.CopySparseVolumeCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'PermissionDenied'
        Test-Path -LiteralPath $outside | Should -BeFalse
        Get-ChildItem -LiteralPath $TestEnv.Root -Force | Where-Object Name -like '*.partial-*' | Should -BeNullOrEmpty
    }

    It 'makes a linked clone whose BackingFile is the base; the base turns read-only and refuses removal and resize' -Skip:$SkipQemuImg {
        $base = New-SparseVolume -Name 'base' -Pool $PoolName -Size 64MB
        Write-Pattern -Path $base.Path -Offset 1MB -Length 1MB -Seed 41

        $clone = Copy-SparseVolume -Name 'base' -Pool $PoolName -Destination 'tenant7' -Linked

        $clone.Name | Should -Be 'tenant7'
        $clone.Path | Should -Be (Join-Path $PoolPath 'tenant7.qcow2')
        $clone.Format.ToString() | Should -Be 'Qcow2'
        $clone.SizeBytes | Should -Be 64MB
        $clone.BackingFile | Should -Be $base.Path
        (Get-SparseVolume -Name 'tenant7' -Pool $PoolName).BackingFile | Should -Be $base.Path
        (Get-Item -LiteralPath $base.Path).UnixFileMode.HasFlag([System.IO.UnixFileMode]::UserWrite) | Should -BeFalse

        $err = { Remove-SparseVolume -Path $base.Path -Force -ErrorAction Stop } |
            Should -Throw -ErrorId 'VolumeInUse,SparseStorage.PowerShell.Commands.RemoveSparseVolumeCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'ResourceBusy'
        $err.Exception.Message | Should -BeLike "*$($clone.Path)*"
        Test-Path -LiteralPath $base.Path -PathType Leaf | Should -BeTrue
        { Resize-SparseVolume -Path $base.Path -Size 128MB -ErrorAction Stop } |
            Should -Throw -ErrorId 'VolumeInUse,SparseStorage.PowerShell.Commands.ResizeSparseVolumeCommand'
        (Get-SparseVolume -Name 'base' -Pool $PoolName).SizeBytes | Should -Be 64MB

        # Once its clone is gone, the base can be removed.
        Remove-SparseVolume -Path $clone.Path -Force
        Remove-SparseVolume -Path $base.Path -Force
        Test-Path -LiteralPath $base.Path | Should -BeFalse
    }
}

Describe 'Optimizing a volume without a filesystem' {
    AfterEach {
        Clear-TestPool
    }

    It 'punches holes where deleted data left zeros, reclaiming space (ReclaimedBytes -gt 0) and keeping the content' {
        $volume = New-SparseVolume -Name 'opt-zeros' -Pool $PoolName -Size 64MB
        Write-Pattern -Path $volume.Path -Offset 1MB -Length 8MB -Seed 51
        Write-Pattern -Path $volume.Path -Offset 1MB -Length 8MB -Seed 0
        Write-Pattern -Path $volume.Path -Offset 32MB -Length 64KB -Seed 52
        $hash = Get-Sha256 -Path $volume.Path
        (Get-SparseVolume -Path $volume.Path).AllocatedBytes | Should -BeGreaterOrEqual 8MB

        Optimize-SparseVolume -Path $volume.Path -WhatIf | Should -BeNullOrEmpty
        $result = Optimize-SparseVolume -Path $volume.Path

        $result | Should -BeOfType 'SparseStorage.Core.Volumes.Maintenance.VolumeOptimizeResult'
        $result.Name | Should -Be 'opt-zeros'
        $result.ReclaimedBytes | Should -BeGreaterThan 0
        $result.ReclaimedBytes | Should -Be ($result.AllocatedBeforeBytes - $result.AllocatedAfterBytes)
        $result.Steps | Should -Be @("punch holes in all-zero 4 KiB blocks of $($volume.Path)")
        $result.Skipped | Should -Contain 'fstrim: no mountable filesystem (None)'
        (Get-SparseVolume -Path $volume.Path).AllocatedBytes | Should -Be $result.AllocatedAfterBytes
        Get-Sha256 -Path $volume.Path | Should -Be $hash -Because 'a hole reads as the zeros it replaced'
    }
}

Describe 'Optimizing a volume with a filesystem' -Skip:(-not $IsRoot -and -not $RequireIntegration) {
    AfterEach {
        Clear-TestPool
    }

    It 'gives back the space of files deleted from an ext4 volume through a temporary mount, which it takes down' -Skip:$SkipTrim {
        $mountPoint = Join-Path $TestEnv.MountDirectory 'opt-ext4'
        $volume = New-SparseVolume -Name 'opt-ext4' -Pool $PoolName -Size 128MB -FileSystem Ext4 |
            Mount-SparseVolume -MountPoint $mountPoint
        $file = Join-Path $mountPoint 'deleted.bin'
        Write-RandomFile -Path $file -Length 32MB -Seed 61
        Remove-Item -LiteralPath $file
        # The unmount commits the deletion; the image still holds the file's blocks.
        Dismount-SparseVolume -Path $volume.Path

        $result = Optimize-SparseVolume -Path $volume.Path

        $result.ReclaimedBytes | Should -BeGreaterThan 0
        $result.AllocatedAfterBytes | Should -BeLessThan $result.AllocatedBeforeBytes
        $result.Steps | Should -Contain "losetup --find --show $($volume.Path)"
        @($result.Steps | Where-Object { $_ -like 'fstrim --verbose *' }).Count | Should -Be 1
        $result.Steps[-1] | Should -Be "punch holes in all-zero 4 KiB blocks of $($volume.Path)"
        (Get-SparseVolume -Path $volume.Path).IsAttached | Should -BeFalse -Because 'the temporary loop device is detached again'
        Get-MountPointUnder -Directory $TestEnv.RuntimeDirectory | Should -BeNullOrEmpty
        Test-SparseVolume -Path $volume.Path -Quiet | Should -BeTrue
    }
}

Describe 'Testing volumes' {
    Context 'A fresh volume with FileSystem <FileSystem>' -ForEach $FreshVolumeCases {
        AfterEach {
            Clear-TestPool
        }

        It 'is healthy: Test-SparseVolume -Quiet writes $true, and the result holds no Error finding' -Skip:$SkipCase {
            $name = "fresh-$($FileSystem.ToLowerInvariant())"
            $volume = New-SparseVolume -Name $name -Pool $PoolName -Size 64MB -FileSystem $FileSystem

            $quiet = Test-SparseVolume -Name $name -Pool $PoolName -Quiet

            $quiet | Should -BeOfType ([bool])
            $quiet | Should -BeTrue
            $result = Get-SparseVolume -Name $name -Pool $PoolName | Test-SparseVolume
            $result | Should -BeOfType 'SparseStorage.Core.Volumes.Maintenance.VolumeTestResult'
            $result.Path | Should -Be $volume.Path
            $result.FileSystem.ToString() | Should -Be $FileSystem
            $result.IsHealthy | Should -BeTrue
            @($result.Findings | Where-Object { $_.Severity.ToString() -eq 'Error' }) | Should -BeNullOrEmpty
            if ($FileSystem -eq 'Ext4') {
                $result.Checks | Should -Be @("e2fsck -f -n $($volume.Path)")
            }
            else {
                $result.Checks | Should -BeNullOrEmpty
            }
        }
    }
}
