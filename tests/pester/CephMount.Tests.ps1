# Mounting Ceph volumes through the cmdlets, against a real cluster from tests/ceph/lab.sh brought up in BeforeAll and
# always taken down in AfterAll. A second "host" is a second pwsh process with its own pool configuration and
# runtime directory (SPARSESTORAGE_CONFIG, SPARSESTORAGE_RUNTIME_DIR), a client of the cluster like any other host
# (Invoke-SecondHost in ceph-lab.ps1). Taking over from a host that died: CephCluster.Tests.ps1.
#
# Needs root, FUSE, qemu's rbd driver and the Ceph packages; skipped otherwise, and failing instead when
# SPARSESTORAGE_INTEGRATION=require. Only one lab runs at a time on a machine: run this suite alone.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'ceph-lab.ps1')
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'ceph-lab.ps1') -SuiteName 'cephmount' -PoolName 'shared'
    $SecondHost = Join-Path $TestEnv.Root 'second-host'
    $MountPoint = Join-Path $TestEnv.MountDirectory 'web01'
    $SecondMountPoint = Join-Path $TestEnv.MountDirectory 'web01-second'

    if ($CephLabPossible) {
        Start-CephLab $Namespace
        $null = Register-CephTestPool $PoolName
        $null = New-Item -ItemType Directory -Path $SecondHost
    }
}

AfterAll {
    Remove-CephSuite
}

Describe 'Mounting a Ceph volume through the cmdlets' -Skip:$SkipCeph {
    BeforeAll {
        $null = New-SparseVolume -Name web01 -Pool $PoolName -Size 256MB -FileSystem Ext4 -Confirm:$false
    }

    It 'Mount-SparseVolume -WhatIf lists the lock, the rbd export, the loop device and the mount, and changes nothing' {
        $output = @(Get-SparseVolume -Name web01 -Pool $PoolName | Mount-SparseVolume -MountPoint $MountPoint -WhatIf -Verbose 4>&1)
        $messages = @($output.Message) -join "`n"
        $messages | Should -Match 'rados .* lock get sparsestorage_mount.web01 mount '
        $messages | Should -Match 'qemu-storage-daemon .*driver=rbd'
        $messages | Should -Match 'losetup '
        $messages | Should -Match 'mount -t ext4 <loop device> '
        Test-Path -LiteralPath $MountPoint | Should -BeFalse
        Get-MountLock web01 | Should -BeNullOrEmpty
    }

    It 'mounts the volume read-write; Get-SparseVolume shows where' {
        $mounted = Get-SparseVolume -Name web01 -Pool $PoolName | Mount-SparseVolume -MountPoint $MountPoint -Confirm:$false
        $mounted.IsMounted | Should -BeTrue
        Set-Content -LiteralPath (Join-Path $MountPoint 'hello.txt') -Value 'from the first host'
        $listed = Get-SparseVolume -Name web01 -Pool $PoolName
        $listed.MountPoint | Should -Be $MountPoint
        $listed.LoopDevice | Should -Match '^/dev/loop\d+$'
        $listed.IsMounted | Should -BeTrue
        (Get-MountLock web01).description | Should -Be "sparsestorage mount on $([Environment]::MachineName):$($TestEnv.RuntimeDirectory)"
    }

    It 'refuses the mount on a second host, naming the holder' {
        $output = Invoke-SecondHost "Mount-SparseVolume -Path 'rbd:rbd/$Namespace/web01' -MountPoint '$SecondMountPoint' -Confirm:`$false"
        "$output" | Should -Match 'ERROR VolumeInUse,SparseStorage.PowerShell.Commands.MountSparseVolumeCommand'
        "$output" | Should -Match ([regex]::Escape("$([Environment]::MachineName):$($TestEnv.RuntimeDirectory)"))
        Test-Path -LiteralPath $SecondMountPoint | Should -BeFalse
    }

    It 'dismounts, releases the lock, and the second host then mounts it with the data intact' {
        $volume = Get-SparseVolume -Name web01 -Pool $PoolName | Dismount-SparseVolume -Confirm:$false -PassThru
        $volume.IsMounted | Should -BeFalse
        $volume.IsAttached | Should -BeFalse
        Get-MountLock web01 | Should -BeNullOrEmpty
        $output = Invoke-SecondHost @"
`$null = Mount-SparseVolume -Path 'rbd:rbd/$Namespace/web01' -MountPoint '$SecondMountPoint' -Confirm:`$false
Get-Content -LiteralPath '$SecondMountPoint/hello.txt'
Dismount-SparseVolume -Path 'rbd:rbd/$Namespace/web01' -Confirm:`$false
"@
        "$output" | Should -Be 'from the first host'
        Get-MountLock web01 | Should -BeNullOrEmpty
        @(Get-Process -Name qemu-storage-daemon -ErrorAction Ignore | Where-Object { $_.CommandLine -like "*$($TestEnv.Root)*" }) | Should -HaveCount 0
    }

    # On SIGTERM qemu lifts its FUSE mount as it exits: the loop device's backing file then reads '/', and only the
    # export's record names the loop. The dismount finds it there, plans what it will do, and does exactly that.
    It 'dismounts a volume whose qemu-storage-daemon exited: unmounts, detaches the loop, removes the export''s record and releases the lock' {
        $mounted = Mount-SparseVolume -Path "rbd:rbd/$Namespace/web01" -MountPoint $MountPoint -Confirm:$false
        $daemon = @(Get-Process -Name qemu-storage-daemon -ErrorAction Ignore | Where-Object { $_.CommandLine -like "*$($TestEnv.RuntimeDirectory)*" })
        $daemon | Should -HaveCount 1
        & kill -TERM $daemon[0].Id
        $daemon[0].WaitForExit(10000) | Should -BeTrue
        $backing = (Get-Content -LiteralPath "/sys/block/$(Split-Path -Leaf $mounted.LoopDevice)/loop/backing_file").Trim()
        $listed = Get-SparseVolume -Name web01 -Pool $PoolName -WarningAction SilentlyContinue

        $planned = @(Dismount-SparseVolume -Path "rbd:rbd/$Namespace/web01" -WhatIf -Verbose 4>&1 | ForEach-Object Message | Where-Object { $_ -like 'Plan: *' })
        $stillAttached = Get-SparseVolume -Name web01 -Pool $PoolName -WarningAction SilentlyContinue
        $applied = @(Dismount-SparseVolume -Path "rbd:rbd/$Namespace/web01" -Confirm:$false -Verbose 4>&1 | ForEach-Object Message | Where-Object { $_ -like 'Step: *' })

        $backing | Should -Be '/'
        $listed.LoopDevice | Should -Be $mounted.LoopDevice
        $listed.IsMounted | Should -BeTrue
        $planned[0] | Should -Be "Plan: umount $MountPoint"
        $planned[1] | Should -Be "Plan: losetup --detach $($mounted.LoopDevice)"
        $planned[2] | Should -BeLike "Plan: remove the record of the FUSE export *, whose qemu-storage-daemon (pid $($daemon[0].Id)) is gone"
        $planned[3] | Should -BeLike 'Plan: rados * lock break sparsestorage_mount.web01 mount *'
        $planned | Should -HaveCount 4
        $stillAttached.LoopDevice | Should -Be $mounted.LoopDevice -Because '-WhatIf changes nothing'
        $applied | Should -Be ($planned -replace '^Plan: ', 'Step: ')
        Get-MountLock | Should -BeNullOrEmpty
        Get-MountPointUnder -Directory $TestEnv.Root | Should -BeNullOrEmpty
        Get-LoopDeviceUnder -Directory $TestEnv.Root -Environment $TestEnv | Should -BeNullOrEmpty
        (Get-SparseVolume -Name web01 -Pool $PoolName).IsAttached | Should -BeFalse
    }
}
