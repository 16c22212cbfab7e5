# Backups and archives end to end: Backup-SparseVolume, Get-VolumeBackup, Restore-SparseVolume and
# Remove-VolumeBackup on volumes that are not in use (so nothing here needs root), and the .tar.zst archives of
# Compress-SparseVolume and Expand-SparseVolume, which need tar and zstd: those tests are skipped without them, and
# fail instead of skipping when SPARSESTORAGE_INTEGRATION=require (as the xunit integration tests do).
#
# build.ps1 runs this suite in 'pwsh -NonInteractive', where no confirmation can be asked: every Restore-SparseVolume
# and Remove-VolumeBackup (High impact) here passes -Force or -Confirm:$false.
#
# Every test removes what it made in AfterEach (the pool's volumes, the backup sets, the archives) and then checks
# that the pool directory is empty again, temporary .partial- files included. AfterAll deletes the whole test
# directory, backup destination and archive folder with it.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'prerequisites.ps1')

    $SkipArchive = -not $RequireIntegration -and -not (Test-Tool 'tar', 'zstd')
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    $TestEnv = New-TestEnvironment -Name 'backups'
    $PoolName = 'pester-backup'
    $PoolPath = (New-TestPool -Environment $TestEnv -Name $PoolName).Path
    # Outside the pool: a backup destination and an archive folder need not be in one.
    $BackupRoot = (New-Item -ItemType Directory -Path (Join-Path $TestEnv.Root 'backup') -ErrorAction Stop).FullName
    $ArchiveRoot = (New-Item -ItemType Directory -Path (Join-Path $TestEnv.Root 'archive') -ErrorAction Stop).FullName

    # Write-Pattern (common.ps1) writes at least 1 MiB in, so a volume still reads as holding no filesystem;
    # offsets and lengths in whole MiB touch whole 1 MiB backup blocks.
    # Inverts one byte of a file in place: damage that keeps the file's length.
    function Set-FlippedByte([string] $Path, [long] $Offset) {
        $stream = [System.IO.File]::Open($Path, 'Open', 'ReadWrite', 'None')
        try {
            $stream.Position = $Offset
            $value = $stream.ReadByte()
            $stream.Position = $Offset
            $stream.WriteByte([byte]($value -bxor 0xFF))
            $stream.Flush($true)
        }
        finally {
            $stream.Dispose()
        }
    }

    # Removes every volume of the test pool and everything in the backup destination and the archive folder, then
    # checks that nothing at all is left in the pool directory.
    function Clear-TestArea {
        foreach ($volume in @(Get-SparseVolume -Pool $PoolName -ErrorAction SilentlyContinue)) {
            try {
                Remove-SparseVolume -Path $volume.Path -Force -ErrorAction Stop
            }
            catch {
                Write-Warning "Test cleanup: volume $($volume.Path): $_"
            }
        }
        foreach ($folder in $BackupRoot, $ArchiveRoot) {
            Get-ChildItem -LiteralPath $folder -Force | Remove-Item -Recurse -Force
        }
        Get-ChildItem -LiteralPath $PoolPath -Force | Should -BeNullOrEmpty -Because 'each test leaves nothing behind'
    }
}

AfterAll {
    Remove-TestEnvironment -Environment $TestEnv
}

Describe 'Backing up and restoring a volume' {
    AfterEach {
        Clear-TestArea
    }

    It 'makes a full set, then an incremental one that stores only the changed block, and restores each point byte-identical' {
        $volume = New-SparseVolume -Name 'bk-chain' -Pool $PoolName -Size 64MB
        Write-Pattern -Path $volume.Path -Offset 1MB -Length 1MB -Seed 1
        Write-Pattern -Path $volume.Path -Offset 40MB -Length 1MB -Seed 2
        $atFull = Get-Sha256 -Path $volume.Path

        Backup-SparseVolume -Path $volume.Path -Destination $BackupRoot -WhatIf | Should -BeNullOrEmpty
        Test-Path -LiteralPath (Join-Path $BackupRoot 'bk-chain') | Should -BeFalse -Because '-WhatIf writes nothing'

        $full = Get-SparseVolume -Name 'bk-chain' -Pool $PoolName | Backup-SparseVolume -Destination $BackupRoot

        $full | Should -BeOfType 'SparseStorage.Core.Backups.VolumeBackup'
        $full.Kind.ToString() | Should -Be 'Full'
        $full.Parent | Should -BeNullOrEmpty
        $full.Source | Should -Be 'bk-chain'
        $full.SourcePath | Should -Be $volume.Path
        $full.Name | Should -Match '^\d{8}T\d{9}Z-full$'
        $full.BackupPath | Should -Be ([System.IO.Path]::Combine($BackupRoot, 'bk-chain', $full.Name))
        $full.Consistency.ToString() | Should -Be 'Detached'
        $full.SizeBytes | Should -Be 64MB
        $full.StoredBytes | Should -BeGreaterOrEqual 2MB
        $full.StoredBytes | Should -BeLessOrEqual 4MB -Because 'two 1 MiB blocks hold data; the holes are not stored'
        foreach ($file in 'manifest.json', 'manifest.sha256', 'data.bin') {
            Test-Path -LiteralPath (Join-Path $full.BackupPath $file) -PathType Leaf | Should -BeTrue
        }
        (Get-Item -LiteralPath (Join-Path $full.BackupPath 'data.bin')).Length | Should -Be $full.StoredBytes

        # 64 KiB change inside the block at 1 MiB: one block differs from the full set.
        Write-Pattern -Path $volume.Path -Offset (1MB + 64KB) -Length 64KB -Seed 3
        $atIncremental = Get-Sha256 -Path $volume.Path
        $atIncremental | Should -Not -Be $atFull

        $incremental = Backup-SparseVolume -Name 'bk-chain' -Pool $PoolName -Destination $BackupRoot

        $incremental.Kind.ToString() | Should -Be 'Incremental'
        $incremental.Parent | Should -Be $full.Name
        $incremental.Name | Should -Match '^\d{8}T\d{9}Z-incr$'
        $incremental.StoredBytes | Should -BeGreaterThan 0
        $incremental.StoredBytes | Should -BeLessOrEqual 1MB -Because 'only the changed 1 MiB block is stored again'
        $incremental.DataBytes | Should -Be $full.DataBytes

        $listed = @(Get-VolumeBackup -Destination $BackupRoot -Volume 'bk-chain')
        $listed.Count | Should -Be 2
        $listed[0].Name | Should -Be $full.Name -Because 'sets are listed oldest first'
        $listed[1].Name | Should -Be $incremental.Name
        $listed[1].BackupPath | Should -Be $incremental.BackupPath

        $fullTarget = Join-Path $PoolPath 'bk-at-full.img'
        Restore-SparseVolume -Backup $full.BackupPath -Destination 'bk-at-full' -WhatIf | Should -BeNullOrEmpty
        Test-Path -LiteralPath $fullTarget | Should -BeFalse -Because '-WhatIf writes nothing'

        # A set binds its BackupPath to -Backup.
        $restoredFull = $full | Restore-SparseVolume -Destination 'bk-at-full' -Force

        $restoredFull | Should -BeOfType 'SparseStorage.Core.Volumes.SparseVolume'
        $restoredFull.Path | Should -Be $fullTarget
        $restoredFull.SizeBytes | Should -Be 64MB
        Get-Sha256 -Path $fullTarget | Should -Be $atFull
        $restoredFull.AllocatedBytes | Should -BeLessOrEqual 4MB -Because 'holes stay holes in the restored image'

        $restoredIncremental = $listed | Select-Object -Last 1 | Restore-SparseVolume -Destination 'bk-at-incr' -Force

        $restoredIncremental.Path | Should -Be (Join-Path $PoolPath 'bk-at-incr.img')
        Get-Sha256 -Path $restoredIncremental.Path | Should -Be $atIncremental

        # Without -Destination the image goes back to the volume's own path.
        Write-Pattern -Path $volume.Path -Offset 40MB -Length 1MB -Seed 4
        Get-Sha256 -Path $volume.Path | Should -Not -Be $atIncremental

        $inPlace = Restore-SparseVolume -Backup $incremental.BackupPath -Confirm:$false

        $inPlace.Path | Should -Be $volume.Path
        Get-Sha256 -Path $volume.Path | Should -Be $atIncremental
        Get-ChildItem -LiteralPath $PoolPath -Force | Where-Object Name -like '*.partial-*' | Should -BeNullOrEmpty
    }

    It 'refuses a set whose stored block was changed: BackupDamaged, and writes no image' {
        $volume = New-SparseVolume -Name 'bk-damage' -Pool $PoolName -Size 32MB
        Write-Pattern -Path $volume.Path -Offset 1MB -Length 1MB -Seed 11
        Write-Pattern -Path $volume.Path -Offset 8MB -Length 1MB -Seed 12
        $set = Backup-SparseVolume -Path $volume.Path -Destination $BackupRoot
        Set-FlippedByte -Path (Join-Path $set.BackupPath 'data.bin') -Offset 4096
        $target = Join-Path $PoolPath 'bk-damage-out.img'

        $err = { Restore-SparseVolume -Backup $set.BackupPath -Destination 'bk-damage-out' -Force -ErrorAction Stop } |
            Should -Throw -ErrorId 'BackupDamaged,SparseStorage.PowerShell.Commands.RestoreSparseVolumeCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'InvalidOperation'
        $err.Exception.Message | Should -BeLike '*does not match its SHA-256*'
        Test-Path -LiteralPath $target | Should -BeFalse -Because 'nothing is renamed into place before every block is verified'
        Get-ChildItem -LiteralPath $PoolPath -Force | Where-Object Name -like '*.partial-*' | Should -BeNullOrEmpty
    }

    It 'reports a set whose manifest was changed: Get-VolumeBackup writes BackupDamaged, and a restore is refused even under -WhatIf' {
        $volume = New-SparseVolume -Name 'bk-manifest' -Pool $PoolName -Size 16MB
        Write-Pattern -Path $volume.Path -Offset 1MB -Length 1MB -Seed 21
        $set = Backup-SparseVolume -Path $volume.Path -Destination $BackupRoot
        $manifest = Join-Path $set.BackupPath 'manifest.json'
        # Still valid JSON, but no longer the bytes that manifest.sha256 describes.
        [System.IO.File]::WriteAllText($manifest, [System.IO.File]::ReadAllText($manifest).Replace('"sizeBytes":', '"sizeBytes": '))

        $listed = @(Get-VolumeBackup -Destination $BackupRoot -Volume 'bk-manifest' -ErrorVariable listErrors -ErrorAction SilentlyContinue)

        $listed.Count | Should -Be 0
        @($listErrors).Count | Should -Be 1
        $listErrors[0].FullyQualifiedErrorId | Should -Be 'BackupDamaged,SparseStorage.PowerShell.Commands.GetVolumeBackupCommand'
        { Restore-SparseVolume -Backup $set.BackupPath -Destination 'bk-manifest-out' -WhatIf -ErrorAction Stop } |
            Should -Throw -ErrorId 'BackupDamaged,SparseStorage.PowerShell.Commands.RestoreSparseVolumeCommand'
        Test-Path -LiteralPath (Join-Path $PoolPath 'bk-manifest-out.img') | Should -BeFalse
    }

    It 'signs a set with -IntegrityKeyFile, restores it with the key, and refuses it once edited: BackupSignatureInvalid' {
        $volume = New-SparseVolume -Name 'bk-signed' -Pool $PoolName -Size 16MB
        Write-Pattern -Path $volume.Path -Offset 1MB -Length 1MB -Seed 31
        $hash = Get-Sha256 -Path $volume.Path
        $key = New-KeyFile -Directory $TestEnv.Root -Name 'backup.key'
        $set = Backup-SparseVolume -Path $volume.Path -Destination $BackupRoot -IntegrityKeyFile $key
        Test-Path -LiteralPath (Join-Path $set.BackupPath 'manifest.hmac') | Should -BeTrue
        $set.Signed | Should -BeTrue

        $restored = Restore-SparseVolume -Backup $set.BackupPath -Destination 'bk-signed-out' -IntegrityKeyFile $key -Force -WarningVariable warnings
        Get-Sha256 -Path $restored.Path | Should -Be $hash
        @($warnings).Count | Should -Be 0
        Remove-SparseVolume -Path $restored.Path -Force

        # An edit anyone could make: change the manifest and write its new SHA-256.
        $manifest = Join-Path $set.BackupPath 'manifest.json'
        [System.IO.File]::WriteAllText($manifest, [System.IO.File]::ReadAllText($manifest).Replace('"sizeBytes":', '"sizeBytes": '))
        $sha = (Get-FileHash -LiteralPath $manifest -Algorithm SHA256).Hash.ToLowerInvariant()
        [System.IO.File]::WriteAllText((Join-Path $set.BackupPath 'manifest.sha256'), "$sha`n")

        $err = { Restore-SparseVolume -Backup $set.BackupPath -Destination 'bk-signed-out' -IntegrityKeyFile $key -Force -ErrorAction Stop } |
            Should -Throw -ErrorId 'BackupSignatureInvalid,SparseStorage.PowerShell.Commands.RestoreSparseVolumeCommand' -PassThru
        $err.CategoryInfo.Category | Should -Be 'PermissionDenied'
        $err.Exception.Message | Should -Not -BeLike "*$([System.IO.File]::ReadAllText($key).Trim())*"
        Test-Path -LiteralPath (Join-Path $PoolPath 'bk-signed-out.img') | Should -BeFalse

        [System.IO.File]::SetUnixFileMode($key, [System.IO.UnixFileMode] 'UserRead, UserWrite, GroupRead, OtherRead')
        Restore-SparseVolume -Backup $set.BackupPath -Destination 'bk-signed-out' -IntegrityKeyFile $key -WhatIf `
            -WarningVariable exposed -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        @($exposed).Count | Should -Be 1
        $exposed[0].Message | Should -BeLike "*$key*0600*"
    }
}

Describe 'Removing backup sets' {
    AfterEach {
        Clear-TestArea
    }

    It 'refuses to remove a set that a later set builds on: BackupHasDependants; -IncludeDependants removes both' {
        $volume = New-SparseVolume -Name 'bk-deps' -Pool $PoolName -Size 16MB
        Write-Pattern -Path $volume.Path -Offset 1MB -Length 1MB -Seed 31
        $full = Backup-SparseVolume -Path $volume.Path -Destination $BackupRoot
        Write-Pattern -Path $volume.Path -Offset 2MB -Length 1MB -Seed 32
        $incremental = Backup-SparseVolume -Path $volume.Path -Destination $BackupRoot
        $incremental.Parent | Should -Be $full.Name

        $err = { Remove-VolumeBackup -Backup $full.BackupPath -Force -ErrorAction Stop } |
            Should -Throw -ErrorId 'BackupHasDependants,SparseStorage.PowerShell.Commands.RemoveVolumeBackupCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'ResourceBusy'
        $err.Exception.Message | Should -BeLike "*$($incremental.Name)*"
        Test-Path -LiteralPath $full.BackupPath | Should -BeTrue -Because 'a refused removal removes nothing'
        Test-Path -LiteralPath $incremental.BackupPath | Should -BeTrue

        $full | Remove-VolumeBackup -IncludeDependants -WhatIf
        Test-Path -LiteralPath $full.BackupPath | Should -BeTrue -Because '-WhatIf removes nothing'

        # A set binds its BackupPath to -Backup.
        $full | Remove-VolumeBackup -IncludeDependants -Confirm:$false | Should -BeNullOrEmpty

        Test-Path -LiteralPath $full.BackupPath | Should -BeFalse
        Test-Path -LiteralPath $incremental.BackupPath | Should -BeFalse
        Get-VolumeBackup -Destination $BackupRoot -Volume 'bk-deps' | Should -BeNullOrEmpty
        Get-ChildItem -LiteralPath (Join-Path $BackupRoot 'bk-deps') -Force | Should -BeNullOrEmpty -Because 'no hidden .removing folder is left'
    }

    It 'keeps the newest sets and every set their chains need with -Keep, and lets an old chain go only after a new full set' {
        $volume = New-SparseVolume -Name 'bk-keep' -Pool $PoolName -Size 16MB
        $sets = [System.Collections.Generic.List[object]]::new()
        $remaining = [System.Collections.Generic.List[object]]::new()
        $planned = @()
        foreach ($step in 1..4) {
            Write-Pattern -Path $volume.Path -Offset 1MB -Length 1MB -Seed (40 + $step)
            if ($step -eq 3) {
                $planned = @(Backup-SparseVolume -Path $volume.Path -Destination $BackupRoot -Full -Keep 1 -WhatIf -Verbose 4>&1 |
                    ForEach-Object Message | Where-Object { $_ -like 'Plan: Remove backup set *' })
            }
            $sets.Add((Backup-SparseVolume -Path $volume.Path -Destination $BackupRoot -Full:($step -eq 3) -Keep 1))
            # The names of the sets left after this step's backup and pruning, oldest first.
            $remaining.Add((@(Get-VolumeBackup -Destination $BackupRoot -Volume 'bk-keep').Name -join ','))
        }

        (@($sets | ForEach-Object { $_.Kind.ToString() }) -join ',') | Should -Be 'Full,Incremental,Full,Incremental'
        $sets[1].Parent | Should -Be $sets[0].Name
        $sets[3].Parent | Should -Be $sets[2].Name
        # Step 2: the full set is older than the one set to keep, but the kept incremental set needs it.
        $remaining[0] | Should -Be $sets[0].Name
        $remaining[1] | Should -Be "$($sets[0].Name),$($sets[1].Name)"
        # Step 3: a new full set; the old chain is needed by no kept set any more and goes as a whole.
        $remaining[2] | Should -Be $sets[2].Name
        $planned | Should -Be @("Plan: Remove backup set $($sets[1].BackupPath)", "Plan: Remove backup set $($sets[0].BackupPath)") -Because '-WhatIf names the sets -Keep would remove, later sets first'
        $remaining[3] | Should -Be "$($sets[2].Name),$($sets[3].Name)"
        Get-ChildItem -LiteralPath (Join-Path $BackupRoot 'bk-keep') -Force | Where-Object Name -like '.*' |
            Should -BeNullOrEmpty -Because 'no hidden .partial- or .removing folder is left'
    }
}

Describe 'Archives' {
    AfterEach {
        Clear-TestArea
    }

    It 'compresses a volume into a .tar.zst that tar lists and that expands sparse and byte-identical' -Skip:$SkipArchive {
        $volume = New-SparseVolume -Name 'arch-src' -Pool $PoolName -Size 256MB
        Write-Pattern -Path $volume.Path -Offset 1MB -Length 1MB -Seed 51
        Write-Pattern -Path $volume.Path -Offset 200MB -Length 1MB -Seed 52
        $volume = Get-SparseVolume -Path $volume.Path
        $hash = Get-Sha256 -Path $volume.Path
        $archivePath = Join-Path $ArchiveRoot 'arch-src.img.tar.zst'

        Compress-SparseVolume -Path $volume.Path -Destination $ArchiveRoot -WhatIf | Should -BeNullOrEmpty
        Test-Path -LiteralPath $archivePath | Should -BeFalse -Because '-WhatIf writes nothing'

        $archive = Get-SparseVolume -Name 'arch-src' -Pool $PoolName | Compress-SparseVolume -Destination $ArchiveRoot

        $archive | Should -BeOfType 'SparseStorage.Core.Backups.VolumeArchive'
        $archive.Path | Should -Be $archivePath
        $archive.Source | Should -Be $volume.Path
        $archive.Codec | Should -Be 'tar --sparse | zstd -3'
        $archive.SizeBytes | Should -Be 256MB
        $archive.DataBytes | Should -Be $volume.AllocatedBytes
        $archive.StoredBytes | Should -Be (Get-Item -LiteralPath $archivePath).Length
        $archive.StoredBytes | Should -BeLessThan 8MB -Because 'the holes of a 256 MiB image with 2 MiB of data are not stored'
        $archive.Consistency.ToString() | Should -Be 'Detached'
        Get-ChildItem -LiteralPath $ArchiveRoot -Force | Where-Object Name -like '.*' | Should -BeNullOrEmpty

        # tar and zstd alone read it: one member, the image file under its own name.
        $members = @(& tar -I zstd -tf $archivePath)
        $LASTEXITCODE | Should -Be 0
        $members.Count | Should -Be 1
        $members[0] | Should -Be 'arch-src.img'

        { Compress-SparseVolume -Path $volume.Path -Destination $ArchiveRoot -ErrorAction Stop } |
            Should -Throw -ErrorId 'ArchiveExists,SparseStorage.PowerShell.Commands.CompressSparseVolumeCommand'

        # An archive binds its Path to -Path.
        $expanded = $archive | Expand-SparseVolume -Destination (Join-Path $PoolPath 'arch-back.img')

        $expanded | Should -BeOfType 'SparseStorage.Core.Volumes.SparseVolume'
        $expanded.Path | Should -Be (Join-Path $PoolPath 'arch-back.img')
        $expanded.SizeBytes | Should -Be 256MB
        Get-Sha256 -Path $expanded.Path | Should -Be $hash
        $expanded.AllocatedBytes | Should -BeLessOrEqual ($volume.AllocatedBytes + 1MB) -Because 'holes come back as holes'

        # Into the pool directory, the volume is named after the archive: arch-src.img, which exists.
        { Expand-SparseVolume -Path $archivePath -Destination $PoolPath -ErrorAction Stop } |
            Should -Throw -ErrorId 'VolumeExists,SparseStorage.PowerShell.Commands.ExpandSparseVolumeCommand'
        Get-Sha256 -Path $volume.Path | Should -Be $hash
        Get-ChildItem -LiteralPath $PoolPath -Force | Where-Object Name -like '.*' | Should -BeNullOrEmpty
    }

    It 'refuses a truncated archive: ToolFailed, and leaves neither a volume nor a temporary file' -Skip:$SkipArchive {
        $volume = New-SparseVolume -Name 'arch-cut' -Pool $PoolName -Size 64MB
        Write-Pattern -Path $volume.Path -Offset 1MB -Length 4MB -Seed 61
        $archive = Compress-SparseVolume -Path $volume.Path -Destination (Join-Path $ArchiveRoot 'whole.img.tar.zst')
        $bytes = [System.IO.File]::ReadAllBytes($archive.Path)
        $cut = Join-Path $ArchiveRoot 'cut.img.tar.zst'
        $stream = [System.IO.File]::Create($cut)
        try {
            $stream.Write($bytes, 0, [int][math]::Floor($bytes.Length / 2))
        }
        finally {
            $stream.Dispose()
        }

        $err = { Expand-SparseVolume -Path $cut -Destination $PoolPath -ErrorAction Stop } |
            Should -Throw -ErrorId 'ToolFailed,SparseStorage.PowerShell.Commands.ExpandSparseVolumeCommand' -PassThru

        $err.Exception.Message | Should -BeLike '*zstd*'
        Test-Path -LiteralPath (Join-Path $PoolPath 'cut.img') | Should -BeFalse
        Get-ChildItem -LiteralPath $PoolPath -Force | Where-Object Name -like '.*' |
            Should -BeNullOrEmpty -Because 'the hidden partial file is removed'
    }

    It 'refuses an archive whose member is a FIFO: UnsafeArchiveMember, quickly, and creates nothing' -Skip:$SkipArchive {
        $staging = (New-Item -ItemType Directory -Path (Join-Path $TestEnv.Root 'staging') -Force).FullName
        & mkfifo (Join-Path $staging 'pipe.img')
        $archive = Join-Path $ArchiveRoot 'pipe.img.tar.zst'
        & tar --zstd --create --file=$archive --directory=$staging pipe.img
        $LASTEXITCODE | Should -Be 0
        Remove-Item -LiteralPath $staging -Recurse -Force

        $err = { Expand-SparseVolume -Path $archive -Destination $PoolPath -ErrorAction Stop } |
            Should -Throw -ErrorId 'UnsafeArchiveMember,SparseStorage.PowerShell.Commands.ExpandSparseVolumeCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'InvalidOperation'
        $err.Exception.Message | Should -BeLike '*a FIFO*'
        Get-ChildItem -LiteralPath $PoolPath -Force | Should -BeNullOrEmpty
    }

    It 'refuses an archive name that does not end in .tar.zst: InvalidArchiveExtension, also under -WhatIf' {
        $volume = New-SparseVolume -Name 'arch-name' -Pool $PoolName -Size 16MB
        $wrong = Join-Path $ArchiveRoot 'arch-name.zip'

        $err = { Compress-SparseVolume -Path $volume.Path -Destination $wrong -WhatIf -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidArchiveExtension,SparseStorage.PowerShell.Commands.CompressSparseVolumeCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        Test-Path -LiteralPath $wrong | Should -BeFalse
    }
}
