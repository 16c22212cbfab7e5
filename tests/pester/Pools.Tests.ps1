# Register-StoragePool, Get-StoragePool and Unregister-StoragePool, and the thin-provisioning accounting.
# Needs no root: nothing here attaches or mounts.

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    $TestEnv = New-TestEnvironment -Name 'pools'
}

AfterAll {
    Remove-TestEnvironment -Environment $TestEnv
}

Describe 'Register-StoragePool and Get-StoragePool' {
    BeforeAll {
        $poolPath = New-TestDirectory -Environment $TestEnv -Name 'main'
        $registered = Register-StoragePool -Name 'pester-main' -Path $poolPath
    }

    It 'returns the new, empty pool' {
        $registered | Should -BeOfType 'SparseStorage.Core.Pools.StoragePool'
        $registered.Name | Should -Be 'pester-main'
        $registered.Path | Should -Be $poolPath
        $registered.VolumeCount | Should -Be 0
        $registered.ProvisionedBytes | Should -Be 0
        $registered.CapacityBytes | Should -BeGreaterThan 0
    }

    It 'records the pool in the file named by SPARSESTORAGE_CONFIG' {
        $configuration = Get-Content -LiteralPath $TestEnv.ConfigPath -Raw | ConvertFrom-Json
        $configuration.pools.name | Should -Contain 'pester-main'
    }

    It 'finds the pool by name and by wildcard' {
        (Get-StoragePool -Name 'pester-main').Path | Should -Be $poolPath
        (Get-StoragePool -Name 'pester-ma*').Name | Should -Be 'pester-main'
    }

    It 'refuses a second pool with the same name: PoolExists' {
        $otherPath = New-TestDirectory -Environment $TestEnv -Name 'main-again'

        $err = { Register-StoragePool -Name 'pester-main' -Path $otherPath -ErrorAction Stop } |
            Should -Throw -ErrorId 'PoolExists,SparseStorage.PowerShell.Commands.RegisterStoragePoolCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'ResourceExists'
        (Get-StoragePool -Name 'pester-main').Path | Should -Be $poolPath
    }

    It 'refuses a directory that does not exist: PoolPathNotFound' {
        $missing = Join-Path $TestEnv.Root 'no-such-directory'

        $err = { Register-StoragePool -Name 'pester-missing' -Path $missing -ErrorAction Stop } |
            Should -Throw -ErrorId 'PoolPathNotFound,SparseStorage.PowerShell.Commands.RegisterStoragePoolCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        Get-StoragePool -Name 'pester-missing' -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'refuses <Path>, which must never hold volumes: UnsafePoolPath' -ForEach @(
        @{ Path = '/' }, @{ Path = '/dev/shm' }, @{ Path = '/proc' }, @{ Path = '/etc' }, @{ Path = '/var/lib' }
    ) {
        $err = { Register-StoragePool -Name 'pester-unsafe' -Path $Path -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'UnsafePoolPath,SparseStorage.PowerShell.Commands.RegisterStoragePoolCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'PermissionDenied'
        Get-StoragePool -Name 'pester-unsafe' -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'registers nothing under -WhatIf' {
        $whatIfPath = New-TestDirectory -Environment $TestEnv -Name 'whatif'

        Register-StoragePool -Name 'pester-whatif' -Path $whatIfPath -WhatIf | Should -BeNullOrEmpty

        Get-StoragePool -Name 'pester-whatif' -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        (Get-Content -LiteralPath $TestEnv.ConfigPath -Raw | ConvertFrom-Json).pools.name | Should -Not -Contain 'pester-whatif'
    }
}

Describe 'Pool accounting with a 2 TB sparse volume' {
    BeforeAll {
        $null = New-TestPool -Environment $TestEnv -Name 'pester-thin'
        $volume = New-SparseVolume -Name 'big' -Pool 'pester-thin' -Size 2TB
        $pool = Get-StoragePool -Name 'pester-thin'
    }

    It 'counts the virtual size as provisioned' {
        $volume.SizeBytes | Should -Be 2TB
        $pool.VolumeCount | Should -Be 1
        $pool.ProvisionedBytes | Should -Be 2TB
    }

    It 'counts only the blocks really used as allocated' {
        $pool.AllocatedBytes | Should -Be $volume.AllocatedBytes
        $pool.AllocatedBytes | Should -BeLessThan 1MB
    }

    It 'reports the overcommit ratio as provisioned / capacity, rounded to 3 decimals' {
        $pool.OvercommitRatio | Should -Be ([math]::Round($pool.ProvisionedBytes / $pool.CapacityBytes, 3))
    }

    It 'shows an overcommit above 1 when the disk is smaller than 2 TB' {
        if ($pool.CapacityBytes -ge 2TB) {
            Set-ItResult -Skipped -Because "the filesystem of $($pool.Path) holds 2 TB or more"
            return
        }
        $pool.OvercommitRatio | Should -BeGreaterThan 1
    }
}

Describe 'Work files of operations that were killed' {
    BeforeAll {
        $pool = New-TestPool -Environment $TestEnv -Name 'pester-partial'
        function Get-StartTime([int] $ProcessId) {
            # Field 22 of /proc/<pid>/stat, counted after the command name, which may hold spaces.
            $stat = Get-Content -LiteralPath "/proc/$ProcessId/stat" -Raw
            $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')[19]
        }
        $sleeper = Start-Process -FilePath sleep -ArgumentList 600 -PassThru
        $deadOwner = "$($sleeper.Id)-$(Get-StartTime $sleeper.Id)"
        $sleeper.Kill()
        $sleeper.WaitForExit()
        $ofDead = Join-Path $pool.Path ".sparsestorage-partial-$deadOwner-0a1b2c3d-copy.img"
        $ofLive = Join-Path $pool.Path ".sparsestorage-partial-$PID-$(Get-StartTime $PID)-0a1b2c3e-restore.img"
        [System.IO.File]::WriteAllBytes($ofDead, [byte[]]::new(2MB))
        [System.IO.File]::WriteAllBytes($ofLive, [byte[]]::new(1MB))
    }

    It 'removes those whose process is gone, says so in the verbose stream, and counts the rest in PartialBytes' {
        $listed = Get-StoragePool -Name 'pester-partial' -Verbose 4>&1
        $messages = @($listed | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message
        $counted = $listed | Where-Object { $_ -is [SparseStorage.Core.Pools.StoragePool] }

        $messages | Should -Match ([regex]::Escape([System.IO.Path]::GetFileName($ofDead)))
        Test-Path -LiteralPath $ofDead | Should -BeFalse
        Test-Path -LiteralPath $ofLive | Should -BeTrue
        $counted.PartialBytes | Should -Be 1MB
        $counted.AllocatedBytes | Should -Be 0
    }
}

Describe 'Unregister-StoragePool' {
    BeforeAll {
        $gonePath = (New-TestPool -Environment $TestEnv -Name 'pester-gone').Path
        $null = New-SparseVolume -Name 'kept' -Pool 'pester-gone' -Size 1MB
    }

    It 'forgets the pool and leaves its directory and volumes on disk' {
        $before = Unregister-StoragePool -Name 'pester-gone' -PassThru -Confirm:$false

        $before.Name | Should -Be 'pester-gone'
        $before.VolumeCount | Should -Be 1
        { Get-StoragePool -Name 'pester-gone' -ErrorAction Stop } |
            Should -Throw -ErrorId 'PoolNotFound,SparseStorage.PowerShell.Commands.GetStoragePoolCommand'
        Test-Path -LiteralPath (Join-Path $gonePath 'kept.img') -PathType Leaf | Should -BeTrue
    }
}
