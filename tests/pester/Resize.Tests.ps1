# Resize-SparseVolume end to end. Growing a mounted volume needs root (loop devices, mount(8)); that part is skipped
# for other users, and fails instead of skipping when SPARSESTORAGE_INTEGRATION=require (as the xunit integration
# tests do). Resizing volumes that are not in use and hold no filesystem, and the refusals that come before any
# change, need no root and always run.
#
# build.ps1 runs this suite in 'pwsh -NonInteractive', where the shrink question cannot be asked: every shrink here
# passes -Confirm:$false or -Force, or sets $ConfirmPreference to ConfirmImpact None.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'prerequisites.ps1')

    $SkipMountedExt4 = -not $RequireIntegration -and -not (Test-Tool 'losetup', 'mount', 'umount', 'mkfs.ext4', 'e2fsck', 'resize2fs')
    # Creating an xfs volume runs mkfs.xfs on the image file: no mount, no root.
    $SkipXfs = -not $RequireIntegration -and -not (Test-Tool 'mkfs.xfs')
    # So does mkfs.ext4; planning a shrink reads its superblock, and the real run measures it with resize2fs -P.
    $SkipExt4File = -not $RequireIntegration -and -not (Test-Tool 'mkfs.ext4', 'e2fsck', 'resize2fs')
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    $TestEnv = New-TestEnvironment -Name 'resize'
    $PoolName = 'pester-resize'
    $PoolPath = (New-TestPool -Environment $TestEnv -Name $PoolName).Path

    # Marker text written straight into an image, clear of the first 64 KiB so the volume still reads as holding no
    # filesystem.
    function Write-Marker([string] $Path, [long] $Offset, [string] $Text) {
        $stream = [System.IO.File]::Open($Path, 'Open', 'ReadWrite', 'ReadWrite')
        try {
            $bytes = [System.Text.Encoding]::ASCII.GetBytes($Text)
            $stream.Position = $Offset
            $stream.Write($bytes, 0, $bytes.Length)
            $stream.Flush($true)
        }
        finally {
            $stream.Dispose()
        }
    }

    function Read-Marker([string] $Path, [long] $Offset, [int] $Length) {
        $stream = [System.IO.File]::Open($Path, 'Open', 'Read', 'ReadWrite')
        try {
            $bytes = [byte[]]::new($Length)
            $stream.Position = $Offset
            $stream.ReadExactly($bytes, 0, $Length)
            [System.Text.Encoding]::ASCII.GetString($bytes)
        }
        finally {
            $stream.Dispose()
        }
    }
}

AfterAll {
    Remove-TestEnvironment -Environment $TestEnv
}

Describe 'Resizing a mounted ext4 volume' -Skip:(-not $IsRoot -and -not $RequireIntegration) {
    It 'grows it to 768 MB, online or, where the kernel refuses, after a dismount, and keeps its files' -Skip:$SkipMountedExt4 {
        $mountPoint = Join-Path $TestEnv.MountDirectory 'grow-ext4'
        $volume = New-SparseVolume -Name 'grow-ext4' -Pool $PoolName -Size 512MB -FileSystem Ext4 |
            Mount-SparseVolume -MountPoint $mountPoint
        $file = Join-Path $mountPoint 'data.bin'
        $data = [byte[]]::new(8MB)
        [System.Random]::new(20240521).NextBytes($data)
        [System.IO.File]::WriteAllBytes($file, $data)
        $hash = (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash

        # Should must not run inside the try: its failure would be caught as the refusal.
        $refusal = $null
        $result = $null
        try {
            $result = Resize-SparseVolume -Path $volume.Path -Size 768MB -ErrorAction Stop
        }
        catch {
            $refusal = $_
        }

        if ($null -ne $refusal) {
            # This kernel refuses to resize a mounted ext4 filesystem (resize2fs: Permission denied to resize
            # filesystem). The image has grown, the filesystem has not, and the data are intact.
            $refusal.FullyQualifiedErrorId | Should -Be 'OnlineResizeRefused,SparseStorage.PowerShell.Commands.ResizeSparseVolumeCommand'
            $refusal.CategoryInfo.Category | Should -Be 'InvalidOperation'
            $refusal.Exception.Message | Should -BeLike "*$mountPoint*"
            $halfway = Get-SparseVolume -Name 'grow-ext4' -Pool $PoolName
            $halfway.SizeBytes | Should -Be 768MB -Because 'the image grows before the filesystem'
            $halfway.FileSystemSizeBytes | Should -Be 512MB -Because 'a refused online resize leaves the filesystem as it was'
            $halfway.IsMounted | Should -BeTrue
            (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash | Should -Be $hash

            Dismount-SparseVolume -Path $volume.Path
            $result = Resize-SparseVolume -Path $volume.Path -Size 768MB -ErrorAction Stop

            $result.OldSizeBytes | Should -Be 768MB -Because 'the first call already grew the image'
            $result.Steps | Should -Be @(
                "e2fsck -f -y $($volume.Path)"
                "resize2fs $($volume.Path) 786432K"
            ) -Because 'the second call, at the same size, grows only the filesystem, offline'
        }
        else {
            $result.OldSizeBytes | Should -Be 512MB
            $result.Steps[0] | Should -Be "truncate -s 805306368 $($volume.Path)"
            $result.Steps | Should -Contain "losetup --set-capacity $($volume.LoopDevice)"
            $result.Steps[-1] | Should -Be "resize2fs $($volume.LoopDevice)"
        }

        $result.Name | Should -Be 'grow-ext4'
        $result.Path | Should -Be $volume.Path
        $result.NewSizeBytes | Should -Be 768MB
        $result.FileSystem.ToString() | Should -Be 'Ext4'
        $result.FileSystemSizeBytes | Should -BeGreaterOrEqual 767MB
        $result.FileSystemSizeBytes | Should -BeLessOrEqual 768MB
        $result.Volume.SizeBytes | Should -Be 768MB
        (Get-Item -LiteralPath $volume.Path).Length | Should -Be 768MB

        # A fresh mount sees the grown filesystem and the same file.
        Dismount-SparseVolume -Path $volume.Path
        $remounted = Mount-SparseVolume -Path $volume.Path -MountPoint $mountPoint
        $remounted.SizeBytes | Should -Be 768MB
        [System.IO.DriveInfo]::new($mountPoint).TotalSize | Should -BeGreaterThan 512MB
        (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash | Should -Be $hash
        Dismount-SparseVolume -Path $volume.Path
    }

    It 'refuses to shrink it while it is mounted: ShrinkWhileMounted, and nothing changes' -Skip:$SkipMountedExt4 {
        $mountPoint = Join-Path $TestEnv.MountDirectory 'shrink-ext4'
        $volume = New-SparseVolume -Name 'shrink-ext4' -Pool $PoolName -Size 512MB -FileSystem Ext4 |
            Mount-SparseVolume -MountPoint $mountPoint

        $err = { Resize-SparseVolume -Path $volume.Path -Size 448MB -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'ShrinkWhileMounted,SparseStorage.PowerShell.Commands.ResizeSparseVolumeCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'InvalidOperation'
        $err.Exception.Message | Should -BeLike "*$mountPoint*"
        $after = Get-SparseVolume -Name 'shrink-ext4' -Pool $PoolName
        $after.SizeBytes | Should -Be 512MB
        $after.FileSystemSizeBytes | Should -Be 512MB
        $after.IsMounted | Should -BeTrue
        Dismount-SparseVolume -Path $volume.Path
    }
}

Describe 'Resizing a volume that is not in use' {
    It 'grows a volume without a filesystem with -Delta +64MB, keeping it thin and its data' {
        $volume = New-SparseVolume -Name 'grow-none' -Pool $PoolName -Size 64MB
        Write-Marker -Path $volume.Path -Offset 1MB -Text 'marker@1MiB'

        $result = Resize-SparseVolume -Name 'grow-none' -Pool $PoolName -Delta +64MB

        $result | Should -BeOfType 'SparseStorage.Core.Volumes.Resize.VolumeResizeResult'
        $result.Name | Should -Be 'grow-none'
        $result.Path | Should -Be $volume.Path
        $result.OldSizeBytes | Should -Be 64MB
        $result.NewSizeBytes | Should -Be 128MB
        $result.FileSystem.ToString() | Should -Be 'None'
        $result.FileSystemSizeBytes | Should -Be 0
        $result.Steps | Should -Be @("truncate -s 134217728 $($volume.Path)")
        $result.Volume.SizeBytes | Should -Be 128MB
        $result.Volume.AllocatedBytes | Should -BeLessThan 1MB -Because 'growing a thin volume allocates nothing'
        (Get-SparseVolume -Name 'grow-none' -Pool $PoolName).SizeBytes | Should -Be 128MB
        (Get-Item -LiteralPath $volume.Path).Length | Should -Be 128MB
        Read-Marker -Path $volume.Path -Offset 1MB -Length 11 | Should -Be 'marker@1MiB'
    }

    It 'shrinks with -Delta ''-32MB'' -Confirm:$false, keeping the data before the new end' {
        $volume = New-SparseVolume -Name 'shrink-none' -Pool $PoolName -Size 128MB
        Write-Marker -Path $volume.Path -Offset 1MB -Text 'kept'
        Write-Marker -Path $volume.Path -Offset 120MB -Text 'cut'

        $result = Resize-SparseVolume -Name 'shrink-none' -Pool $PoolName -Delta '-32MB' -Confirm:$false

        $result.OldSizeBytes | Should -Be 128MB
        $result.NewSizeBytes | Should -Be 96MB
        $result.Steps | Should -Be @("truncate -s 100663296 $($volume.Path)")
        (Get-SparseVolume -Name 'shrink-none' -Pool $PoolName).SizeBytes | Should -Be 96MB
        (Get-Item -LiteralPath $volume.Path).Length | Should -Be 96MB
        Read-Marker -Path $volume.Path -Offset 1MB -Length 4 | Should -Be 'kept'
    }

    It 'reads -Delta -32MB (a negative number) like ''-32MB'', and shrinks without asking under -Force' {
        $volume = New-SparseVolume -Name 'shrink-number' -Pool $PoolName -Size 128MB

        $result = Resize-SparseVolume -Path $volume.Path -Delta -32MB -Force

        $result.NewSizeBytes | Should -Be 96MB
        (Get-Item -LiteralPath $volume.Path).Length | Should -Be 96MB
    }

    It 'shrinks without asking when $ConfirmPreference holds ConfirmImpact None' {
        $volume = New-SparseVolume -Name 'shrink-preference' -Pool $PoolName -Size 128MB
        # A typed value: a plain 'None' assigned in this (non-global) scope would be stored as a string.
        $ConfirmPreference = [System.Management.Automation.ConfirmImpact]::None

        $result = Resize-SparseVolume -Path $volume.Path -Size 64MB

        $result.NewSizeBytes | Should -Be 64MB
    }

    It 'rounds a new size up to whole MiB, and does nothing at the current size' {
        $volume = New-SparseVolume -Name 'rounding' -Pool $PoolName -Size 64MB

        (Resize-SparseVolume -Path $volume.Path -Size (64MB + 1)).NewSizeBytes | Should -Be 65MB

        $same = Resize-SparseVolume -Path $volume.Path -Size 65MB
        $same.OldSizeBytes | Should -Be 65MB
        $same.NewSizeBytes | Should -Be 65MB
        $same.Steps | Should -BeNullOrEmpty
    }

    It 'changes nothing under -WhatIf, for a grow and for a shrink, and -Verbose lists the real steps' {
        $volume = New-SparseVolume -Name 'what-if' -Pool $PoolName -Size 64MB

        $output = Resize-SparseVolume -Path $volume.Path -Delta +64MB -WhatIf -Verbose 4>&1
        $verbose = @($output | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] })
        $output | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] } | Should -BeNullOrEmpty
        $verbose.Message | Should -Contain "Plan: truncate -s 134217728 $($volume.Path)"

        # A shrink under -WhatIf neither asks (this session could not answer) nor cuts.
        Resize-SparseVolume -Path $volume.Path -Delta '-32MB' -WhatIf | Should -BeNullOrEmpty

        (Get-SparseVolume -Name 'what-if' -Pool $PoolName).SizeBytes | Should -Be 64MB
        (Get-Item -LiteralPath $volume.Path).Length | Should -Be 64MB
    }

    It 'refuses a -Delta that leaves no volume: InvalidSize' {
        $volume = New-SparseVolume -Name 'to-zero' -Pool $PoolName -Size 64MB

        $err = { Resize-SparseVolume -Path $volume.Path -Delta '-64MB' -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidSize,SparseStorage.PowerShell.Commands.ResizeSparseVolumeCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        (Get-Item -LiteralPath $volume.Path).Length | Should -Be 64MB
    }

    Context 'Without exactly one target' {
        BeforeAll {
            $targetPath = (New-SparseVolume -Name 'no-target' -Pool $PoolName -Size 64MB).Path
        }

        It 'is a parameter binding error when given <Case>, and changes nothing' -ForEach @(
            @{ Case = '-Size and -Delta'; Arguments = @{ Size = 128MB; Delta = 64MB } }
            @{ Case = '-Delta and -ToMinimumSize'; Arguments = @{ Delta = -16MB; ToMinimumSize = $true } }
            @{ Case = '-Size and -ToMinimumSize'; Arguments = @{ Size = 32MB; ToMinimumSize = $true } }
        ) {
            $err = { Resize-SparseVolume -Path $targetPath @Arguments -Confirm:$false -ErrorAction Stop } |
                Should -Throw -ErrorId 'AmbiguousParameterSet,SparseStorage.PowerShell.Commands.ResizeSparseVolumeCommand' -PassThru

            $err.Exception | Should -BeOfType 'System.Management.Automation.ParameterBindingException'
            (Get-Item -LiteralPath $targetPath).Length | Should -Be 64MB
        }

        It 'shows in its syntax that every parameter set needs exactly one of -Size, -Delta and -ToMinimumSize' {
            $sets = (Get-Command Resize-SparseVolume).ParameterSets

            $sets.Name | Sort-Object | Should -Be @('DeltaByName', 'DeltaByPath', 'SizeByName', 'SizeByPath', 'ToMinimumSizeByName', 'ToMinimumSizeByPath')
            foreach ($set in $sets) {
                $given = $set.Parameters | Where-Object { $_.IsMandatory -and $_.Name -in 'Size', 'Delta', 'ToMinimumSize' }
                $given.Name | Should -Be ($set.Name -replace 'By(Name|Path)$') -Because "set $($set.Name) takes one way of giving the size"
            }
        }
    }

    Context 'An empty ext4 volume' {
        BeforeAll {
            $ext4Path = $null
            if ($env:SPARSESTORAGE_INTEGRATION -eq 'require' -or (Get-Command -Name 'mkfs.ext4' -CommandType Application -ErrorAction Ignore)) {
                $ext4Path = (New-SparseVolume -Name 'plan-ext4' -Pool $PoolName -Size 256MB -FileSystem Ext4).Path
            }
        }

        It 'is refused under -WhatIf below its used space plus 64 MiB, with the error the real run gives' -Skip:$SkipExt4File {
            $whatIf = { Resize-SparseVolume -Path $ext4Path -Size 70MB -WhatIf -ErrorAction Stop } |
                Should -Throw -ErrorId 'ShrinkBelowUsedSpace,SparseStorage.PowerShell.Commands.ResizeSparseVolumeCommand' -PassThru
            { Resize-SparseVolume -Path $ext4Path -Size 70MB -Force -ErrorAction Stop } |
                Should -Throw -ErrorId $whatIf.FullyQualifiedErrorId

            $whatIf.Exception.Message | Should -BeLike '*cannot shrink to 70 MiB*'
            (Get-Item -LiteralPath $ext4Path).Length | Should -Be 256MB
        }

        It 'shows under -WhatIf the size -ToMinimumSize will measure as a placeholder' -Skip:$SkipExt4File {
            $verbose = Resize-SparseVolume -Path $ext4Path -ToMinimumSize -WhatIf -Verbose 4>&1

            $verbose.Message | Should -Contain "Plan: resize2fs $ext4Path '<measured minimum + margin>'"
            $verbose.Message | Should -Contain "Plan: truncate -s <measured minimum + margin> $ext4Path"
            (Get-Item -LiteralPath $ext4Path).Length | Should -Be 256MB
        }
    }

    Context 'An xfs volume' {
        BeforeAll {
            # The skip condition again: variables of BeforeDiscovery do not reach the Run phase, and older Pester 5
            # releases run BeforeAll even when every test of the block is skipped.
            $xfsPath = $null
            if ($env:SPARSESTORAGE_INTEGRATION -eq 'require' -or (Get-Command -Name 'mkfs.xfs' -CommandType Application -ErrorAction Ignore)) {
                # mkfs.xfs refuses less than 300 MiB.
                $xfsPath = (New-SparseVolume -Name 'xfs' -Pool $PoolName -Size 512MB -FileSystem Xfs).Path
            }
        }

        It 'cannot shrink (<Case>): XfsCannotShrink, and nothing changes' -Skip:$SkipXfs -ForEach @(
            @{ Case = '-Size 400MB'; Arguments = @{ Size = 400MB } }
            @{ Case = '-Delta ''-64MB'''; Arguments = @{ Delta = '-64MB' } }
            @{ Case = '-ToMinimumSize'; Arguments = @{ ToMinimumSize = $true } }
        ) {
            (Get-SparseVolume -Name 'xfs' -Pool $PoolName).FileSystem.ToString() | Should -Be 'Xfs'

            $err = { Resize-SparseVolume -Name 'xfs' -Pool $PoolName @Arguments -Confirm:$false -ErrorAction Stop } |
                Should -Throw -ErrorId 'XfsCannotShrink,SparseStorage.PowerShell.Commands.ResizeSparseVolumeCommand' -PassThru

            $err.CategoryInfo.Category | Should -Be 'InvalidOperation'
            $err.Exception.Message | Should -BeLike '*xfs cannot shrink*'
            (Get-SparseVolume -Name 'xfs' -Pool $PoolName).SizeBytes | Should -Be 512MB
            (Get-Item -LiteralPath $xfsPath).Length | Should -Be 512MB
        }
    }

    Context 'From the pipeline' {
        BeforeAll {
            $null = New-TestPool -Environment $TestEnv -Name 'pester-resize-pipe'
            $null = New-SparseVolume -Name 'pipe-a' -Pool 'pester-resize-pipe' -Size 32MB
            $null = New-SparseVolume -Name 'pipe-b' -Pool 'pester-resize-pipe' -Size 48MB
        }

        It 'Get-SparseVolume -Pool <name> | Resize-SparseVolume -Size 64MB resizes every volume of the pool' {
            $results = Get-SparseVolume -Pool 'pester-resize-pipe' | Resize-SparseVolume -Size 64MB

            ($results.Name | Sort-Object) -join ',' | Should -Be 'pipe-a,pipe-b'
            ($results.OldSizeBytes | Sort-Object) -join ',' | Should -Be "$(32MB),$(48MB)"
            $results.NewSizeBytes | Sort-Object -Unique | Should -Be 64MB
            (Get-SparseVolume -Pool 'pester-resize-pipe').SizeBytes | Sort-Object -Unique | Should -Be 64MB
        }

        It 'Get-SparseVolume <name> | Resize-SparseVolume, whose result pipes into Resize-SparseVolume again' {
            $null = New-SparseVolume -Name 'pipe-c' -Pool $PoolName -Size 64MB

            $result = Get-SparseVolume 'pipe-c' -Pool $PoolName | Resize-SparseVolume -Delta +16MB |
                Resize-SparseVolume -Delta +16MB

            $result.Name | Should -Be 'pipe-c'
            $result.OldSizeBytes | Should -Be 80MB
            $result.NewSizeBytes | Should -Be 96MB
        }
    }
}
