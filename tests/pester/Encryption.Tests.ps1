# Encryption at rest end to end: Protect-Volume, Mount-SparseVolume with a key, Unlock-Volume and Lock-Volume,
# Add-VolumeKey and Remove-VolumeKey, Unprotect-Volume, and the crypto-erase of Remove-SparseVolume -Wipe. Protecting,
# unlocking, locking and mounting need root, so the suite is skipped for other users, and fails instead of skipping
# when SPARSESTORAGE_INTEGRATION=require (as the xunit integration tests do). Raw volumes need cryptsetup and, on a
# host without device-mapper, qemu-storage-daemon and FUSE; qcow2 volumes need qemu-img, qemu-io, qemu-storage-daemon
# and FUSE.
#
# build.ps1 runs this suite in 'pwsh -NonInteractive', where nothing can be prompted: every key is given with
# -KeyFile or -Passphrase, and every Protect-Volume, Unprotect-Volume, Remove-VolumeKey and Remove-SparseVolume passes
# -Confirm:$false or -Force.
#
# Key files are text (base64, as 'openssl rand -base64 48' makes them), which volumes opened in userspace require.
# -IterationTime 100, the smallest allowed, keeps key derivation short. Every test takes its volumes down, locks and
# removes them in AfterEach, and then checks that the pool directory is empty and that no key file is left in
# /dev/shm.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'prerequisites.ps1')

    $HasMount = Test-Tool 'losetup', 'mount', 'umount', 'mkfs.ext4'
    $SkipRaw = -not $RequireIntegration -and -not ($HasMount -and (Test-Tool 'cryptsetup') -and ($HasDeviceMapper -or $HasUserspace))
    $SkipQcow2 = -not $RequireIntegration -and -not ($HasMount -and $HasUserspace -and (Test-Tool 'qemu-img', 'qemu-io'))
    $ProtectCases = @(
        @{ Format = 'Raw'; SkipCase = $SkipRaw }
        @{ Format = 'Qcow2'; SkipCase = $SkipQcow2 }
    )
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    $TestEnv = New-TestEnvironment -Name 'encryption'
    $PoolName = 'pester-crypt'
    $PoolPath = (New-TestPool -Environment $TestEnv -Name $PoolName).Path
    $Marker = 'PLAINTEXT-MARKER-3b7e1f09c2d84a65'
    $Passphrase = ConvertTo-SecureString -String 'correct horse battery staple 7431' -AsPlainText -Force

    # Keys live outside the pool, as they would on a real host.
    $KeyDirectory = (New-Item -ItemType Directory -Path (Join-Path $TestEnv.Root 'keys') -ErrorAction Stop).FullName

    $KeyFile = New-KeyFile -Directory $KeyDirectory -Name 'tenant.key'
    $WrongKeyFile = New-KeyFile -Directory $KeyDirectory -Name 'wrong.key'

    # Keys handed to qemu live in /dev/shm/sparsestorage-<random>/ only while a tool reads them.
    function Get-SecretDirectory {
        Get-ChildItem -LiteralPath '/dev/shm' -Directory -Filter 'sparsestorage-*' -ErrorAction Ignore |
            ForEach-Object { $_.FullName }
    }
    $SecretsBefore = @(Get-SecretDirectory)

    # 'relative path=SHA-256' for every file below a directory, in a stable order.
    function Get-TreeHash([string] $Directory) {
        Get-ChildItem -LiteralPath $Directory -File -Recurse | Sort-Object -Property FullName |
            ForEach-Object { '{0}={1}' -f $_.FullName.Substring($Directory.Length), (Get-Sha256 -Path $_.FullName) }
    }

    # Whether the bytes of an ASCII text occur anywhere in a file: read in 4 MiB chunks that overlap by the text's
    # length, as Latin-1, which maps every byte to one character.
    function Test-ImageContains([string] $Path, [string] $Text) {
        $overlap = $Text.Length - 1
        $buffer = [byte[]]::new(4MB + $overlap)
        $stream = [System.IO.File]::OpenRead($Path)
        try {
            $kept = 0
            while (($read = $stream.Read($buffer, $kept, $buffer.Length - $kept)) -gt 0) {
                $filled = $kept + $read
                if ([System.Text.Encoding]::Latin1.GetString($buffer, 0, $filled).Contains($Text, [System.StringComparison]::Ordinal)) {
                    return $true
                }
                $kept = [Math]::Min($overlap, $filled)
                [System.Array]::Copy($buffer, $filled - $kept, $buffer, 0, $kept)
            }
            $false
        }
        finally {
            $stream.Dispose()
        }
    }

    # A 64 MiB ext4 volume holding a random file, the marker and a nested file, dismounted again.
    function New-VolumeWithFiles([string] $Name, [string] $Format = 'Raw') {
        $mountPoint = Join-Path $TestEnv.MountDirectory $Name
        $null = New-SparseVolume -Name $Name -Pool $PoolName -Size 64MB -Format $Format -FileSystem Ext4 |
            Mount-SparseVolume -MountPoint $mountPoint
        Write-RandomFile -Path (Join-Path $mountPoint 'data.bin') -Length 4MB -Seed 71
        Set-Content -LiteralPath (Join-Path $mountPoint 'marker.txt') -Value $Marker -NoNewline -ErrorAction Stop
        $null = New-Item -ItemType Directory -Path (Join-Path $mountPoint 'nested') -ErrorAction Stop
        Set-Content -LiteralPath (Join-Path $mountPoint 'nested/notes.txt') -Value 'tenant notes' -ErrorAction Stop
        $hashes = @(Get-TreeHash -Directory $mountPoint)
        $volume = Dismount-SparseVolume -Name $Name -Pool $PoolName -PassThru
        [pscustomobject]@{ Volume = $volume; PlainVolume = $volume; Hashes = $hashes; MountPoint = $mountPoint }
    }

    # The same, protected with the tenant key file.
    function New-ProtectedVolume([string] $Name) {
        $made = New-VolumeWithFiles -Name $Name
        $made.Volume = Protect-Volume -Path $made.Volume.Path -KeyFile $KeyFile -IterationTime 100 -Confirm:$false -PassThru
        $made
    }

    # Locks, dismounts and removes every volume of the test pool, then checks that nothing is left behind: no file
    # in the pool directory (hidden .partial- files included), no mount under the run-time directory, no key file.
    function Clear-TestPool {
        foreach ($volume in @(Get-SparseVolume -Pool $PoolName -ErrorAction SilentlyContinue)) {
            try {
                if ($volume.Encryption -ne 'None') {
                    Lock-Volume -Path $volume.Path -Dismount -Force -Confirm:$false -ErrorAction Stop
                }
                Dismount-SparseVolume -Path $volume.Path -Confirm:$false -ErrorAction Stop
                Remove-SparseVolume -Path $volume.Path -Force -ErrorAction Stop
            }
            catch {
                Write-Warning "Test cleanup: volume $($volume.Path): $_"
            }
        }
        Get-ChildItem -LiteralPath $PoolPath -Force | Should -BeNullOrEmpty -Because 'each test leaves nothing behind'
        Get-MountPointUnder -Directory $TestEnv.RuntimeDirectory | Should -BeNullOrEmpty -Because 'no FUSE export is left'
        @(Get-SecretDirectory | Where-Object { $_ -notin $SecretsBefore }) |
            Should -BeNullOrEmpty -Because 'a key handed to qemu is deleted as soon as the tool has read it'
    }
}

AfterAll {
    # An unlocked volume is not removed (VolumeInUse), and Remove-TestEnvironment only dismounts: lock whatever a
    # failed test left unlocked first.
    if ($null -ne $TestEnv -and (Get-Command -Name Lock-Volume -ErrorAction Ignore)) {
        $encrypted = @(Get-SparseVolume -Pool $PoolName -ErrorAction SilentlyContinue | Where-Object Encryption -NE 'None')
        foreach ($volume in $encrypted) {
            try {
                Lock-Volume -Path $volume.Path -Dismount -Force -Confirm:$false -ErrorAction Stop
            }
            catch {
                Write-Warning "Test cleanup: lock $($volume.Path): $_"
            }
        }
    }
    Remove-TestEnvironment -Environment $TestEnv
}

Describe 'Encryption at rest' -Skip:(-not $IsRoot -and -not $RequireIntegration) {
    BeforeAll {
        $StorageHost = Get-StorageHost
        # Raw volumes become LUKS1 without device-mapper and open in userspace, LUKS2 with it and open with dm-crypt.
        $RawEncryption = '{0} aes-xts-plain64' -f $StorageHost.DefaultEncryption.ToString().ToUpperInvariant()
        $RawOpensInUserspace = -not $StorageHost.Features.DeviceMapper
    }

    AfterEach {
        Clear-TestPool
    }

    Context 'A <Format> volume with files' -ForEach $ProtectCases {
        It 'is protected with a text key file: only ciphertext in the image, still thin, and the same files once mounted with the key' -Skip:$SkipCase {
            $name = "crypt-$($Format.ToLowerInvariant())"
            $made = New-VolumeWithFiles -Name $name -Format $Format
            $plain = $made.Volume
            Test-ImageContains -Path $plain.Path -Text $Marker | Should -BeTrue -Because 'the marker is written in plaintext before protection'
            $plainHash = Get-Sha256 -Path $plain.Path

            Protect-Volume -Path $plain.Path -KeyFile $KeyFile -IterationTime 100 -WhatIf | Should -BeNullOrEmpty
            Get-Sha256 -Path $plain.Path | Should -Be $plainHash -Because '-WhatIf changes nothing'

            $protected = Protect-Volume -Path $plain.Path -KeyFile $KeyFile -IterationTime 100 -Confirm:$false -PassThru

            $protected | Should -BeOfType 'SparseStorage.Core.Volumes.SparseVolume'
            $protected.Path | Should -Be $plain.Path
            $protected.Encryption | Should -Be $(if ($Format -eq 'Qcow2') { 'qcow2 LUKS1 aes-xts-plain64' } else { $RawEncryption })
            $protected.Format.ToString() | Should -Be $(if ($Format -eq 'Qcow2') { 'Qcow2' } else { 'Luks' })
            $protected.KeySlotCount | Should -Be 1
            $protected.IsUnlocked | Should -BeFalse
            $protected.SizeBytes | Should -Be $plain.SizeBytes
            $protected.AllocatedBytes | Should -BeLessThan ($plain.AllocatedBytes + 8MB) -Because 'only allocated extents are encrypted'
            Test-ImageContains -Path $plain.Path -Text $Marker | Should -BeFalse -Because 'the image holds only ciphertext'
            Get-ChildItem -LiteralPath $PoolPath -Force -Filter '*.partial-*' | Should -BeNullOrEmpty

            $mounted = Mount-SparseVolume -Path $plain.Path -MountPoint $made.MountPoint -KeyFile $KeyFile

            $mounted.IsMounted | Should -BeTrue
            $mounted.IsUnlocked | Should -BeTrue
            $mounted.FileSystem.ToString() | Should -Be 'Ext4'
            Get-TreeHash -Directory $made.MountPoint | Should -Be $made.Hashes
            Get-Content -LiteralPath (Join-Path $made.MountPoint 'marker.txt') -Raw | Should -Be $Marker

            $dismounted = Dismount-SparseVolume -Path $plain.Path -PassThru

            $dismounted.IsMounted | Should -BeFalse
            if ($Format -eq 'Qcow2' -or $RawOpensInUserspace) {
                $dismounted.IsUnlocked | Should -BeFalse -Because 'the mount unlocked it, so the dismount locks it again'
            }
            # A dm-crypt mapping stays open after the dismount; Lock-Volume closes it, and does nothing to a locked volume.
            $locked = Lock-Volume -Path $plain.Path -PassThru
            $locked.IsUnlocked | Should -BeFalse
            $locked.IsAttached | Should -BeFalse
        }
    }

    It 'refuses a wrong key file with WrongKey, naming the file but not its contents, and changes nothing' -Skip:$SkipRaw {
        $made = New-ProtectedVolume -Name 'crypt-wrong'
        $volume = $made.Volume
        $imageHash = Get-Sha256 -Path $volume.Path
        $wrongKey = [System.IO.File]::ReadAllText($WrongKeyFile).Trim()

        $err = { Unlock-Volume -Path $volume.Path -KeyFile $WrongKeyFile -ErrorAction Stop } |
            Should -Throw -ErrorId 'WrongKey,SparseStorage.PowerShell.Commands.UnlockVolumeCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'PermissionDenied'
        $err.Exception.Message | Should -BeLike "*key file $WrongKeyFile*"
        $err.Exception.Message.Contains($wrongKey) | Should -BeFalse -Because 'errors never carry a key'
        (Get-SparseVolume -Path $volume.Path).IsUnlocked | Should -BeFalse
        Get-Sha256 -Path $volume.Path | Should -Be $imageHash

        $mountPoint = Join-Path $TestEnv.MountDirectory 'crypt-wrong-mount'
        { Mount-SparseVolume -Path $volume.Path -MountPoint $mountPoint -KeyFile $WrongKeyFile -ErrorAction Stop } |
            Should -Throw -ErrorId 'WrongKey,SparseStorage.PowerShell.Commands.MountSparseVolumeCommand'
        Test-Path -LiteralPath $mountPoint | Should -BeFalse -Because 'a failed mount removes the mount point it created'
        (Get-SparseVolume -Path $volume.Path).IsAttached | Should -BeFalse
        Get-Sha256 -Path $volume.Path | Should -Be $imageHash
    }

    It 'rotates keys: adds a passphrase, removes the key file, which then opens nothing, and refuses the last key (LastKey) even with -Force' -Skip:$SkipRaw {
        $made = New-ProtectedVolume -Name 'crypt-rotate'
        $volume = $made.Volume

        $added = Add-VolumeKey -Path $volume.Path -KeyFile $KeyFile -NewPassphrase $Passphrase -IterationTime 100 -PassThru

        $added.KeySlotCount | Should -Be 2

        $removed = Remove-VolumeKey -Path $volume.Path -KeyFile $KeyFile -Confirm:$false -PassThru

        $removed.KeySlotCount | Should -Be 1
        { Unlock-Volume -Path $volume.Path -KeyFile $KeyFile -ErrorAction Stop } |
            Should -Throw -ErrorId 'WrongKey,SparseStorage.PowerShell.Commands.UnlockVolumeCommand'
        $err = { Remove-VolumeKey -Path $volume.Path -Passphrase $Passphrase -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'LastKey,SparseStorage.PowerShell.Commands.RemoveVolumeKeyCommand' -PassThru
        $err.CategoryInfo.Category | Should -Be 'InvalidOperation'
        { Remove-VolumeKey -Path $volume.Path -Passphrase $Passphrase -Force -ErrorAction Stop } |
            Should -Throw -ErrorId 'LastKey,SparseStorage.PowerShell.Commands.RemoveVolumeKeyCommand' -Because '-Force only skips the confirmation'
        Remove-VolumeKey -Path $volume.Path -Passphrase $Passphrase -AllowLastKeyRemoval -WhatIf 3>&1 |
            Should -BeLike '*unreadable*' -Because 'the plan warns that the data becomes unreadable'
        (Get-SparseVolume -Path $volume.Path).KeySlotCount | Should -Be 1

        $unlocked = Unlock-Volume -Path $volume.Path -Passphrase $Passphrase -ReadOnly -PassThru

        $unlocked.IsUnlocked | Should -BeTrue
        $unlocked.FileSystem.ToString() | Should -Be 'Ext4' -Because 'an unlocked volume is read through its plaintext'
        $null = Mount-SparseVolume -Path $volume.Path -MountPoint $made.MountPoint -ReadOnly
        Get-TreeHash -Directory $made.MountPoint | Should -Be $made.Hashes
        Dismount-SparseVolume -Path $volume.Path
        (Get-SparseVolume -Path $volume.Path).IsUnlocked | Should -BeTrue -Because 'Unlock-Volume opened it, so only Lock-Volume closes it'

        $locked = Lock-Volume -Path $volume.Path -PassThru

        $locked.IsUnlocked | Should -BeFalse
        $locked.IsAttached | Should -BeFalse
    }

    It 'unprotects a locked volume back to a plain image with the same files, and refuses an unlocked one (VolumeInUse)' -Skip:$SkipRaw {
        $made = New-ProtectedVolume -Name 'crypt-unprotect'
        $volume = $made.Volume
        $null = Unlock-Volume -Path $volume.Path -KeyFile $KeyFile

        $err = { Unprotect-Volume -Path $volume.Path -KeyFile $KeyFile -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'VolumeInUse,SparseStorage.PowerShell.Commands.UnprotectVolumeCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'ResourceBusy'
        (Get-SparseVolume -Path $volume.Path).Encryption | Should -Be $volume.Encryption

        Lock-Volume -Path $volume.Path
        Unprotect-Volume -Path $volume.Path -KeyFile $KeyFile -WhatIf | Should -BeNullOrEmpty
        (Get-SparseVolume -Path $volume.Path).Encryption | Should -Be $volume.Encryption -Because '-WhatIf changes nothing'

        $plain = Unprotect-Volume -Path $volume.Path -KeyFile $KeyFile -Confirm:$false -PassThru

        $plain.Path | Should -Be $volume.Path
        $plain.Encryption | Should -Be 'None'
        $plain.KeySlotCount | Should -Be 0
        $plain.Format.ToString() | Should -Be 'Raw'
        $plain.FileSystem.ToString() | Should -Be 'Ext4'
        $plain.SizeBytes | Should -Be $made.PlainVolume.SizeBytes
        Test-ImageContains -Path $plain.Path -Text $Marker | Should -BeTrue -Because 'the image holds plaintext again'
        $null = Mount-SparseVolume -Path $plain.Path -MountPoint $made.MountPoint -ReadOnly
        Get-TreeHash -Directory $made.MountPoint | Should -Be $made.Hashes
        Dismount-SparseVolume -Path $plain.Path
    }

    It 'crypto-erases with Remove-SparseVolume -Wipe: refused while unlocked, then the LUKS header is gone and no key opens what is left' -Skip:$SkipRaw {
        $made = New-ProtectedVolume -Name 'crypt-erase'
        $volume = $made.Volume
        # A descriptor held open keeps the image's blocks readable after the removal (a hard link would make the file
        # no volume at all); the tools read them through /proc.
        $held = [System.IO.File]::Open($volume.Path, 'Open', 'Read', 'ReadWrite, Delete')
        $witness = "/proc/$PID/fd/$($held.SafeFileHandle.DangerousGetHandle())"
        try {
            $null = & cryptsetup isLuks $witness 2>&1
            $LASTEXITCODE | Should -Be 0 -Because 'the image starts with a LUKS header'

            $null = Unlock-Volume -Path $volume.Path -KeyFile $KeyFile
            { Remove-SparseVolume -Path $volume.Path -Wipe -Force -ErrorAction Stop } |
                Should -Throw -ErrorId 'VolumeInUse,SparseStorage.PowerShell.Commands.RemoveSparseVolumeCommand'
            Test-Path -LiteralPath $volume.Path -PathType Leaf | Should -BeTrue
            Lock-Volume -Path $volume.Path

            Remove-SparseVolume -Path $volume.Path -Wipe -Force

            Test-Path -LiteralPath $volume.Path | Should -BeFalse
            $null = & cryptsetup isLuks $witness 2>&1
            $LASTEXITCODE | Should -Not -Be 0 -Because 'the header was overwritten with random bytes'
            $null = & cryptsetup open --test-passphrase --key-file $KeyFile $witness 2>&1
            $LASTEXITCODE | Should -Not -Be 0 -Because 'no key opens the data any more'
        }
        finally {
            $held.Dispose()
        }
    }

    It 'refuses a binary key file before anything changes (KeyNotText) where raw volumes open in userspace' -Skip:($SkipRaw -or $HasDeviceMapper) {
        $volume = New-SparseVolume -Name 'crypt-binary' -Pool $PoolName -Size 16MB
        Write-Pattern -Path $volume.Path -Offset 1MB -Length 64KB -Seed 81
        $hash = Get-Sha256 -Path $volume.Path
        $binaryKeyFile = Join-Path $KeyDirectory 'binary.key'
        $bytes = [byte[]]::new(64)
        [System.Random]::new(82).NextBytes($bytes)
        $bytes[0] = 0
        [System.IO.File]::WriteAllBytes($binaryKeyFile, $bytes)

        $err = { Protect-Volume -Path $volume.Path -KeyFile $binaryKeyFile -IterationTime 100 -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'KeyNotText,SparseStorage.PowerShell.Commands.ProtectVolumeCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.Exception.Message | Should -BeLike "*$binaryKeyFile*"
        (Get-SparseVolume -Path $volume.Path).Encryption | Should -Be 'None'
        Get-Sha256 -Path $volume.Path | Should -Be $hash
    }
}
