# The volume lifecycle end to end. Mounting needs root (loop devices, mount(8)); those tests are skipped for other
# users, and fail instead of skipping when SPARSESTORAGE_INTEGRATION=require (as the xunit integration tests do).
# Creating, listing, piping and removing unmounted volumes needs no root and always runs.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'prerequisites.ps1')

    $LifecycleCases = @(
        @{ Format = 'Raw'; FileSystem = 'Ext4'; Size = 64MB; Extension = '.img'
           SkipCase = -not $RequireIntegration -and -not (Test-Tool 'losetup', 'mount', 'mkfs.ext4') }
        # mkfs.xfs refuses less than 300 MiB.
        @{ Format = 'Qcow2'; FileSystem = 'Xfs'; Size = 512MB; Extension = '.qcow2'
           SkipCase = -not $RequireIntegration -and -not ((Test-Tool 'losetup', 'mount', 'mkfs.xfs', 'qemu-img', 'qemu-storage-daemon') -and (Test-Path -LiteralPath '/dev/fuse')) }
    )
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    # The skip condition again, for the Run phase: older Pester 5 releases run BeforeAll even in a skipped block.
    $RunMountTests = (& id -u) -eq '0' -or $env:SPARSESTORAGE_INTEGRATION -eq 'require'
    $TestEnv = New-TestEnvironment -Name 'lifecycle'
    $PoolName = 'pester-life'
    $PoolPath = (New-TestPool -Environment $TestEnv -Name $PoolName).Path
}

AfterAll {
    Remove-TestEnvironment -Environment $TestEnv
}

Describe 'Mounted volume lifecycle' -Skip:(-not $IsRoot -and -not $RequireIntegration) {
    Context '<Format> volume with <FileSystem>' -ForEach $LifecycleCases {
        BeforeAll {
            $name = "life-$($Format.ToLowerInvariant())"
            $imagePath = Join-Path $PoolPath "$name$Extension"
            $mountPoint = Join-Path $TestEnv.MountDirectory $name
        }

        It 'is created, mounted, written, remounted read-only with the same data, dismounted and removed' -Skip:$SkipCase {
            $mounted = New-SparseVolume -Name $name -Pool $PoolName -Size $Size -Format $Format -FileSystem $FileSystem |
                Mount-SparseVolume -MountPoint $mountPoint
            $mounted.Path | Should -Be $imagePath
            $mounted.Format.ToString() | Should -Be $Format
            $mounted.FileSystem.ToString() | Should -Be $FileSystem
            $mounted.IsMounted | Should -BeTrue

            $file = Join-Path $mountPoint 'hello.txt'
            Set-Content -LiteralPath $file -Value "written through $name" -ErrorAction Stop
            $hash = (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash

            $dismounted = Dismount-SparseVolume -Path $imagePath -PassThru
            $dismounted.IsMounted | Should -BeFalse
            $dismounted.IsAttached | Should -BeFalse
            Test-Path -LiteralPath $file | Should -BeFalse -Because 'the file lives in the volume, not in the directory'

            $null = Mount-SparseVolume -Path $imagePath -MountPoint $mountPoint -ReadOnly
            (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash | Should -Be $hash
            { Set-Content -LiteralPath $file -Value 'changed' -ErrorAction Stop } | Should -Throw

            $listed = Get-SparseVolume -Name $name -Pool $PoolName
            $listed.IsMounted | Should -BeTrue
            $listed.IsReadOnly | Should -BeTrue
            $listed.MountPoint | Should -Be $mountPoint
            $listed.LoopDevice | Should -Match '^/dev/loop[0-9]+$'

            Dismount-SparseVolume -Name $name -Pool $PoolName
            Remove-SparseVolume -Name $name -Pool $PoolName -Confirm:$false
            Test-Path -LiteralPath $imagePath | Should -BeFalse
            Get-SparseVolume -Name $name -Pool $PoolName -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        }
    }

    Context 'A volume that is mounted' {
        BeforeAll {
            $busyPath = Join-Path $PoolPath 'busy.img'
            $busyMountPoint = Join-Path $TestEnv.MountDirectory 'busy'
            if ($RunMountTests) {
                # Remove-TestEnvironment dismounts it after the file.
                $null = New-SparseVolume -Name 'busy' -Pool $PoolName -Size 64MB -FileSystem Ext4 |
                    Mount-SparseVolume -MountPoint $busyMountPoint
            }
        }

        It 'cannot be mounted a second time: VolumeInUse' {
            $otherMountPoint = Join-Path $TestEnv.MountDirectory 'busy-again'

            $err = { Mount-SparseVolume -Name 'busy' -Pool $PoolName -MountPoint $otherMountPoint -ErrorAction Stop } |
                Should -Throw -ErrorId 'VolumeInUse,SparseStorage.PowerShell.Commands.MountSparseVolumeCommand' -PassThru

            $err.CategoryInfo.Category | Should -Be 'ResourceBusy'
            $err.Exception.Message | Should -BeLike "*$busyMountPoint*"
            Test-Path -LiteralPath $otherMountPoint | Should -BeFalse
        }

        It 'cannot be removed: VolumeInUse, and the image stays' {
            { Remove-SparseVolume -Name 'busy' -Pool $PoolName -Confirm:$false -ErrorAction Stop } |
                Should -Throw -ErrorId 'VolumeInUse,SparseStorage.PowerShell.Commands.RemoveSparseVolumeCommand'

            Test-Path -LiteralPath $busyPath -PathType Leaf | Should -BeTrue
            (Get-SparseVolume -Name 'busy' -Pool $PoolName).IsMounted | Should -BeTrue
        }
    }

    Context 'A mount point that is not empty' {
        It 'is refused: MountPointNotEmpty, and the volume stays detached' {
            $null = New-SparseVolume -Name 'spare' -Pool $PoolName -Size 64MB -FileSystem Ext4
            $occupied = New-Item -ItemType Directory -Path (Join-Path $TestEnv.MountDirectory 'occupied')
            Set-Content -LiteralPath (Join-Path $occupied.FullName 'keep.txt') -Value 'keep'

            { Mount-SparseVolume -Name 'spare' -Pool $PoolName -MountPoint $occupied.FullName -ErrorAction Stop } |
                Should -Throw -ErrorId 'MountPointNotEmpty,SparseStorage.PowerShell.Commands.MountSparseVolumeCommand'

            (Get-SparseVolume -Name 'spare' -Pool $PoolName).IsAttached | Should -BeFalse
            Get-Content -LiteralPath (Join-Path $occupied.FullName 'keep.txt') | Should -Be 'keep'
        }
    }
}

Describe 'Creating, finding and removing volumes' {
    It 'reads -Size 1GB (a number) and -Size ''1GiB'' (text) as the same size' {
        $fromNumber = New-SparseVolume -Name 'size-number' -Pool $PoolName -Size 1GB
        $fromText = New-SparseVolume -Name 'size-text' -Pool $PoolName -Size '1GiB'

        $fromNumber.SizeBytes | Should -Be 1073741824
        $fromText.SizeBytes | Should -Be $fromNumber.SizeBytes
        (Get-Item -LiteralPath $fromText.Path).Length | Should -Be 1073741824
        $fromText.AllocatedBytes | Should -BeLessThan 1MB -Because 'a new raw volume is sparse'
    }

    It 'refuses a name with ''/'': InvalidVolumeName' {
        $err = { New-SparseVolume -Name 'tenant/web' -Pool $PoolName -Size 1MB -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidVolumeName,SparseStorage.PowerShell.Commands.NewSparseVolumeCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        Test-Path -LiteralPath (Join-Path $PoolPath 'tenant') | Should -BeFalse
    }

    It 'refuses a path outside every pool (<Case>): PathOutsidePool' -ForEach @(
        @{ Case = 'a directory that is not a pool'; Relative = 'outside.img' }
        @{ Case = '.. out of the pool'; Relative = 'pools/pester-life/../escaped.img' }
    ) {
        $target = Join-Path $TestEnv.Root $Relative

        $err = { New-SparseVolume -Path $target -Size 1MB -ErrorAction Stop } |
            Should -Throw -ErrorId 'PathOutsidePool,SparseStorage.PowerShell.Commands.NewSparseVolumeCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'PermissionDenied'
        Test-Path -LiteralPath ([System.IO.Path]::GetFullPath($target)) | Should -BeFalse
    }

    It 'refuses to replace a volume without -Replace, even with -Force: VolumeExists; replaces it with -Replace' {
        $null = New-SparseVolume -Name 'twice' -Pool $PoolName -Size 1MB

        { New-SparseVolume -Name 'twice' -Pool $PoolName -Size 2MB -ErrorAction Stop } |
            Should -Throw -ErrorId 'VolumeExists,SparseStorage.PowerShell.Commands.NewSparseVolumeCommand'
        { New-SparseVolume -Name 'twice' -Pool $PoolName -Size 2MB -Force -ErrorAction Stop } |
            Should -Throw -ErrorId 'VolumeExists,SparseStorage.PowerShell.Commands.NewSparseVolumeCommand' -Because '-Force only skips confirmation'
        (Get-SparseVolume -Name 'twice' -Pool $PoolName).SizeBytes | Should -Be 1MB

        (New-SparseVolume -Name 'twice' -Pool $PoolName -Size 2MB -Replace).SizeBytes | Should -Be 2MB
    }

    It 'rejects a size it cannot read while binding -Size: ParameterArgumentTransformationError' {
        $err = { New-SparseVolume -Name 'bad-size' -Pool $PoolName -Size '12XB' } |
            Should -Throw -ExceptionType ([System.Management.Automation.ParameterBindingException]) `
                -ErrorId 'ParameterArgumentTransformationError,SparseStorage.PowerShell.Commands.NewSparseVolumeCommand' -PassThru

        $err.Exception.ParameterName | Should -Be 'Size'
        $err.Exception.InnerException | Should -BeOfType ([System.Management.Automation.ArgumentTransformationMetadataException])
        $err.Exception.Message | Should -BeLike "*'12XB' is not a valid size*"
        Test-Path -LiteralPath (Join-Path $PoolPath 'bad-size.img') | Should -BeFalse
    }

    It 'creates no file under -WhatIf' {
        New-SparseVolume -Name 'what-if' -Pool $PoolName -Size 1GB -WhatIf | Should -BeNullOrEmpty

        Get-ChildItem -LiteralPath $PoolPath -Force | Where-Object Name -Like '*what-if*' | Should -BeNullOrEmpty
    }

    It 'removes nothing under -WhatIf, with or without -Force' {
        $kept = New-SparseVolume -Name 'kept' -Pool $PoolName -Size 1MB

        Remove-SparseVolume -Name 'kept' -Pool $PoolName -WhatIf
        Remove-SparseVolume -Name 'kept' -Pool $PoolName -Force -WhatIf

        Test-Path -LiteralPath $kept.Path -PathType Leaf | Should -BeTrue
    }

    Context 'From the pipeline' {
        BeforeAll {
            $pipePath = (New-TestPool -Environment $TestEnv -Name 'pester-pipe').Path
            $null = New-SparseVolume -Name 'pipe-a' -Pool 'pester-pipe' -Size 1MB
            $null = New-SparseVolume -Name 'pipe-b' -Pool 'pester-pipe' -Size 1MB
            $null = New-SparseVolume -Path (Join-Path $pipePath 'pipe-c.raw') -Size 1MB
        }

        It 'Get-ChildItem <pool>/*.img | Get-SparseVolume lists those files' {
            $volumes = Get-ChildItem -Path (Join-Path $pipePath '*.img') | Get-SparseVolume

            ($volumes.Name | Sort-Object) -join ',' | Should -Be 'pipe-a,pipe-b'
            $volumes.Pool | Sort-Object -Unique | Should -Be 'pester-pipe'
        }

        It 'Get-StoragePool <name> | Get-SparseVolume lists the whole pool' {
            $volumes = Get-StoragePool -Name 'pester-pipe' | Get-SparseVolume

            ($volumes.Name | Sort-Object) -join ',' | Should -Be 'pipe-a,pipe-b,pipe-c'
        }

        It 'Get-SparseVolume -Pool <name> | Remove-SparseVolume removes every volume of the pool' {
            $drainPath = (New-TestPool -Environment $TestEnv -Name 'pester-drain').Path
            $null = New-SparseVolume -Name 'drain-a' -Pool 'pester-drain' -Size 1MB
            $null = New-SparseVolume -Name 'drain-b' -Pool 'pester-drain' -Size 1MB

            $removed = Get-SparseVolume -Pool 'pester-drain' | Remove-SparseVolume -Confirm:$false -PassThru

            ($removed.Name | Sort-Object) -join ',' | Should -Be 'drain-a,drain-b'
            Get-SparseVolume -Pool 'pester-drain' | Should -BeNullOrEmpty
            Get-ChildItem -LiteralPath $drainPath -Force | Should -BeNullOrEmpty
        }
    }
}
