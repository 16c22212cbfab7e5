# Ceph pools end to end through the cmdlets: a real cluster from tests/ceph/lab.sh (1 mon, 1 mgr, 3 OSDs in their own
# network namespaces), brought up in BeforeAll and always taken down in AfterAll. The pool is registered on an RBD
# namespace of the lab's pool 'rbd' as the limited client 'sparse' with its keyring file.
#
# Needs root, FUSE, qemu's rbd driver and the Ceph packages (ceph ceph-mon ceph-mgr ceph-osd); skipped otherwise, and
# failing instead when SPARSESTORAGE_INTEGRATION=require. Only one lab runs at a time on a machine: run this suite
# alone, not beside the xunit Ceph tests.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'ceph-lab.ps1')
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'ceph-lab.ps1') -SuiteName 'ceph' -PoolName 'shared'

    if ($CephLabPossible) {
        Start-CephLab $Namespace
    }
}

AfterAll {
    Remove-CephSuite
}

Describe 'A Ceph pool through the cmdlets' -Skip:$SkipCeph {
    It 'Register-StoragePool -WhatIf lists the check and the configuration change, and registers nothing' {
        $output = @(Register-StoragePool -Name $PoolName -CephPool rbd -CephNamespace $Namespace -CephConfig $CephConfig -CephUser sparse -CephKeyring $CephKeyring -WhatIf -Verbose 4>&1)
        $messages = @($output.Message) -join "`n"
        $messages | Should -Match ([regex]::Escape("--keyring $CephKeyring ls --format json --pool rbd --namespace $Namespace"))
        $messages | Should -Match "add pool '$PoolName'"
        Get-StoragePool -ErrorAction Ignore | Should -BeNullOrEmpty
    }

    It 'registers the RBD namespace as a pool that reports the cluster''s capacity' {
        $pool = Register-StoragePool -Name $PoolName -CephPool rbd -CephNamespace $Namespace -CephConfig $CephConfig -CephUser sparse -CephKeyring $CephKeyring -Confirm:$false
        $pool.PSObject.TypeNames[0] | Should -Be 'SparseStorage.Core.Pools.StoragePool'
        $pool.Kind | Should -Be 'CephRbd'
        $pool.Path | Should -Be "rbd:rbd/$Namespace"
        $pool.VolumeCount | Should -Be 0
        $pool.CapacityBytes | Should -BeGreaterThan 1GB
        $pool.FreeBytes | Should -BeGreaterThan 0
        $key = (Select-String -LiteralPath $CephKeyring -Pattern 'key = (\S+)').Matches[0].Groups[1].Value
        (Get-Content -LiteralPath $TestEnv.ConfigPath -Raw).Contains($key) | Should -BeFalse -Because 'the configuration names the keyring file, never the key'
    }

    It 'creates a volume with ext4 through qemu''s rbd driver and lists it with its filesystem' {
        $volume = New-SparseVolume -Name web01 -Pool $PoolName -Size 1GB -FileSystem Ext4 -Label web -Confirm:$false
        $volume.Path | Should -Be "rbd:rbd/$Namespace/web01"
        $volume.FileSystem | Should -Be 'Ext4'
        $volume.AllocatedBytes | Should -BeGreaterThan 0
        (Get-SparseVolume -Name web01 -Pool $PoolName).Label | Should -Be 'web'
        @(Get-Process -Name qemu-storage-daemon -ErrorAction Ignore | Where-Object { $_.CommandLine -like '*image=web01*' }) | Should -HaveCount 0
    }

    It 'creates a thin volume larger than the cluster, with a warning, and counts it as provisioned, not used' {
        $volume = New-SparseVolume -Name thin -Pool $PoolName -Size 2TB -Confirm:$false -WarningVariable warnings -WarningAction SilentlyContinue
        $volume.AllocatedBytes | Should -Be 0
        $volume.FileSystem | Should -Be 'None'
        "$warnings" | Should -Match 'promises more than'
        $pool = Get-StoragePool $PoolName
        $pool.VolumeCount | Should -Be 2
        $pool.ProvisionedBytes | Should -Be (1GB + 2TB)
        $pool.OvercommitRatio | Should -BeGreaterThan 1
    }

    It 'lists the pool''s volumes by pool, by wildcard and by path' {
        @(Get-SparseVolume -Pool $PoolName).Name | Should -Be @('thin', 'web01')
        (Get-SparseVolume -Name 'w*').Path | Should -Be "rbd:rbd/$Namespace/web01"
        (Get-SparseVolume -Path "rbd:rbd/$Namespace/thin").SizeBytes | Should -Be 2TB
        Invoke-AdminRbd ls --pool rbd --namespace $Namespace | Should -Be @('thin', 'web01')
    }

    It 'Get-StorageHost reports the Ceph client tools and qemu''s rbd driver' {
        $storageHost = Get-StorageHost
        ($storageHost.Tools | Where-Object Name -EQ 'rbd').IsInstalled | Should -BeTrue
        ($storageHost.Tools | Where-Object Name -EQ 'ceph').Package | Should -Be 'ceph-common'
        $storageHost.Features.QemuRbdDriver | Should -BeTrue
        # Loaded or built in (/sys/module), or installed for the running kernel (a rbd.ko file under /lib/modules).
        $modules = Join-Path '/lib/modules' (& uname -r)
        $installed = (Test-Path -LiteralPath $modules) -and @(Get-ChildItem -LiteralPath $modules -Recurse -Filter 'rbd.ko*' -ErrorAction Ignore).Count -gt 0
        $storageHost.Features.RbdKernelModule | Should -Be ((Test-Path -LiteralPath '/sys/module/rbd') -or $installed)
    }

    It 'Test-SparseVolume finds the new volume healthy, its filesystem checked read-only, and the image unchanged' {
        $result = Get-SparseVolume -Name web01 -Pool $PoolName | Test-SparseVolume
        $result.IsHealthy | Should -BeTrue
        $result.Checks | Should -HaveCount 3 -Because 'the read-only export started, the check, the export stopped'
        $result.Checks[1] | Should -BeLike 'e2fsck -f -n *'
        (Get-SparseVolume -Name web01 -Pool $PoolName).SizeBytes | Should -Be 1GB
    }

    It 'Remove-SparseVolume -WhatIf names the wipe and rbd rm, and removes nothing' {
        $output = @(Get-SparseVolume -Name web01 -Pool $PoolName | Remove-SparseVolume -Wipe -WhatIf -Verbose 4>&1)
        $messages = @($output.Message) -join "`n"
        $messages | Should -Match 'write zeros over every allocated extent'
        $messages | Should -Match ' rm --no-progress --image web01'
        Invoke-AdminRbd ls --pool rbd --namespace $Namespace | Should -Contain 'web01'
    }

    It 'removes a piped volume with -Wipe, and another by name' {
        $removed = Get-SparseVolume -Name web01 -Pool $PoolName | Remove-SparseVolume -Wipe -Force -PassThru
        $removed.Name | Should -Be 'web01'
        Remove-SparseVolume -Name thin -Pool $PoolName -Confirm:$false
        Invoke-AdminRbd ls --pool rbd --namespace $Namespace | Should -BeNullOrEmpty
        (Get-StoragePool $PoolName).ProvisionedBytes | Should -Be 0
    }
}
