# Workflow 1, thin provisioning: a 2 TB volume on a disk much smaller than that costs nothing until written, and the
# pool shows what it promised, what is really used and the overcommit ratio. As root the pool lives on its own
# 512 MiB tmpfs, so the disk is known to be small; for other users it lives under /tmp and the overcommit check is
# skipped when that filesystem holds 2 TB or more. Nothing here attaches or mounts a volume.

BeforeAll {
    . (Join-Path $PSScriptRoot '../common.ps1')
    $TestEnv = New-TestEnvironment -Name 'wf-thin'
    $PoolName = 'wf-thin'
    $SmallDisk = $null
    if ((& id -u) -eq '0') {
        # Outside the test directory, so that Remove-TestEnvironment can delete that directory before the unmount.
        $SmallDisk = "$($TestEnv.Root)-disk"
        $null = New-Item -ItemType Directory -Path $SmallDisk -ErrorAction Stop
        $output = & mount -t tmpfs -o size=512m sparsestorage-wf-thin $SmallDisk 2>&1
        if ($LASTEXITCODE -ne 0) {
            throw "mount -t tmpfs failed ($LASTEXITCODE): $output"
        }
        $PoolPath = (Register-StoragePool -Name $PoolName -Path $SmallDisk -Confirm:$false -ErrorAction Stop).Path
    }
    else {
        $PoolPath = (New-TestPool -Environment $TestEnv -Name $PoolName).Path
    }
}

AfterAll {
    try {
        Remove-TestEnvironment -Environment $TestEnv
    }
    finally {
        if ($SmallDisk -and (Test-Path -LiteralPath $SmallDisk)) {
            if (@(Get-MountPointUnder -Directory $SmallDisk).Count -gt 0) {
                $output = & umount $SmallDisk 2>&1
                if ($LASTEXITCODE -ne 0) {
                    Write-Warning "Test cleanup: umount $SmallDisk failed ($LASTEXITCODE): $output"
                }
            }
            # Only an unmounted, empty directory is removed; never the tmpfs under it.
            if (@(Get-MountPointUnder -Directory $SmallDisk).Count -eq 0) {
                Remove-Item -LiteralPath $SmallDisk -Force
            }
        }
    }
}

Describe 'Thin provisioning' {
    It 'promises 2 TB on a small disk, charges only what is written, and gives it all back on removal' {
        $volume = New-SparseVolume -Name 'big' -Pool $PoolName -Size 2TB

        $volume.SizeBytes | Should -Be 2TB
        (Get-Item -LiteralPath $volume.Path).Length | Should -Be 2TB
        $volume.AllocatedBytes | Should -BeLessThan 1MB -Because 'a new raw volume is one big hole'
        $pool = Get-StoragePool -Name $PoolName
        $pool.VolumeCount | Should -Be 1
        $pool.ProvisionedBytes | Should -Be 2TB
        $pool.AllocatedBytes | Should -BeLessThan 1MB
        $pool.OvercommitRatio | Should -Be ([math]::Round($pool.ProvisionedBytes / $pool.CapacityBytes, 3))
        if ($pool.CapacityBytes -lt 2TB) {
            $pool.OvercommitRatio | Should -BeGreaterThan 1 -Because 'the pool promised more than its disk holds'
        }
        if ($SmallDisk) {
            $pool.CapacityBytes | Should -BeLessOrEqual 512MB
            $pool.OvercommitRatio | Should -BeGreaterOrEqual 4096
        }

        # 8 MiB written 1 TiB into the volume: the pool is charged those blocks, not the distance to them.
        Write-Pattern -Path $volume.Path -Offset 1TB -Length 8MB -Seed 1
        $written = Get-SparseVolume -Name 'big' -Pool $PoolName
        $written.SizeBytes | Should -Be 2TB
        $written.AllocatedBytes | Should -BeGreaterOrEqual 8MB
        $written.AllocatedBytes | Should -BeLessThan 16MB
        $after = Get-StoragePool -Name $PoolName
        $after.AllocatedBytes | Should -Be $written.AllocatedBytes
        $after.ProvisionedBytes | Should -Be 2TB -Because 'writing changes what is used, not what was promised'

        $second = New-SparseVolume -Name 'big2' -Pool $PoolName -Size 2TB
        (Get-StoragePool -Name $PoolName).ProvisionedBytes | Should -Be 4TB
        (@(Get-SparseVolume -Pool $PoolName | Where-Object AllocatedBytes -GT 1MB).Name -join ',') | Should -Be 'big'

        Get-SparseVolume -Pool $PoolName | Remove-SparseVolume -Confirm:$false
        $empty = Get-StoragePool -Name $PoolName
        $empty.VolumeCount | Should -Be 0
        $empty.ProvisionedBytes | Should -Be 0
        $empty.AllocatedBytes | Should -Be 0
        Test-Path -LiteralPath $second.Path | Should -BeFalse
        Unregister-StoragePool -Name $PoolName -Confirm:$false
        Get-StoragePool -Name $PoolName -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Get-ChildItem -LiteralPath $PoolPath -Force | Should -BeNullOrEmpty
    }
}
