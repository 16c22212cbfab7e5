# A Ceph pool as a cluster: it grows when a host joins, keeps serving when a host is lost, and a volume moves to
# another host when the host that had it mounted dies. Against a real cluster from tests/ceph/lab.sh, brought up in
# BeforeAll and always taken down in AfterAll; a 4th OSD joins on a new host (lab.sh add-osd), one OSD's host is
# cut off and restored (lab.sh isolate-osd / restore-osd: its link down and up, the daemon left running). The second
# host is a second pwsh with its own configuration and runtime directory (Invoke-SecondHost, ceph-lab.ps1); the
# mount, refusal and hand-over between two live hosts are CephMount.Tests.ps1's.
#
# Needs root, FUSE, qemu's rbd driver and the Ceph packages; skipped otherwise, and failing instead when
# SPARSESTORAGE_INTEGRATION=require. The cases build on one another (the cluster grows, then loses a host) and run in
# order.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'ceph-lab.ps1')
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'ceph-lab.ps1') -SuiteName 'cephcluster' -PoolName 'cluster'
    $SecondHost = Join-Path $TestEnv.Root 'second-host'
    $VolumeNames = 'app1', 'app2'
    $Hashes = @{}

    function Get-VolumePath([string] $Name) { "rbd:rbd/$Namespace/$Name" }
    function Get-MountPath([string] $Name) { Join-Path $TestEnv.MountDirectory $Name }

    # Mounts each volume, checks that the file written at the start still has its hash, writes a new file (flushed),
    # and dismounts; returns one line per volume for the assertion messages.
    function Test-EveryVolume([string] $Tag) {
        foreach ($name in $VolumeNames) {
            $mountPoint = Get-MountPath $name
            $null = Mount-SparseVolume -Path (Get-VolumePath $name) -MountPoint $mountPoint -Confirm:$false
            try {
                "$name data=$(Get-Sha256 (Join-Path $mountPoint 'data.bin'))"
                Write-RandomFile -Path (Join-Path $mountPoint "$Tag.bin") -Length 1MB -Seed ($Tag.Length + 7)
                "$name wrote=$((Get-Item -LiteralPath (Join-Path $mountPoint "$Tag.bin")).Length)"
            }
            finally {
                $null = Dismount-SparseVolume -Path (Get-VolumePath $name) -Confirm:$false
            }
        }
    }

    function Get-OsdCounts {
        $stat = Invoke-AdminCeph osd stat
        [pscustomobject]@{ Osds = $stat.num_osds; Up = $stat.num_up_osds }
    }

    if ($CephLabPossible) {
        Start-CephLab $Namespace
        $null = New-Item -ItemType Directory -Path $SecondHost
        $null = Register-CephTestPool $PoolName
        foreach ($name in $VolumeNames) {
            $null = New-SparseVolume -Name $name -Pool $PoolName -Size 128MB -FileSystem Ext4 -Confirm:$false
            $mountPoint = Get-MountPath $name
            $null = Mount-SparseVolume -Path (Get-VolumePath $name) -MountPoint $mountPoint -Confirm:$false
            Write-RandomFile -Path (Join-Path $mountPoint 'data.bin') -Length 4MB -Seed $name.Length
            $Hashes[$name] = Get-Sha256 (Join-Path $mountPoint 'data.bin')
            $null = Dismount-SparseVolume -Path (Get-VolumePath $name) -Confirm:$false
        }
    }
}

AfterAll {
    try {
        if ($CephLabPossible -and $LabDirectory) {
            # An OSD left isolated by a failed case gets its link back, so that the lab goes down cleanly.
            & bash (Join-Path $SparseStorageRepositoryRoot 'tests/ceph/lab.sh') restore-osd $LabDirectory 1 *> $null
        }
    }
    finally {
        Remove-CephSuite
    }
}

Describe 'A Ceph pool grows with a host and survives the loss of one' -Skip:$SkipCeph {
    It 'grows when a 4th OSD joins on a new host, and every volume still mounts, reads its data and writes' {
        $before = Get-StoragePool -Name $PoolName

        Invoke-CephLab add-osd
        $after = Get-StoragePool -Name $PoolName
        $checked = @(Test-EveryVolume 'after-growth')

        (Get-OsdCounts).Osds | Should -Be 4
        # Raw capacity grows by a third (30 -> 40 GiB of OSDs); what the pool can hold at size 3 grows with it.
        $after.CapacityBytes | Should -BeGreaterThan ($before.CapacityBytes * 1.2)
        $after.FreeBytes | Should -BeGreaterThan $before.FreeBytes
        $after.VolumeCount | Should -Be 2
        $checked | Should -Contain "app1 data=$($Hashes['app1'])"
        $checked | Should -Contain "app2 data=$($Hashes['app2'])"
        $checked | Should -Contain 'app1 wrote=1048576'
        $checked | Should -Contain 'app2 wrote=1048576'
    }

    It 'keeps every volume readable and writable with one host cut off, and is clean again when it comes back' {
        Invoke-CephLab isolate-osd 1
        $during = Get-OsdCounts
        $health = (Invoke-AdminCeph health).status
        $checked = @(Test-EveryVolume 'host-lost')
        Invoke-CephLab restore-osd 1
        $afterwards = Get-OsdCounts
        $pgs = (Invoke-AdminCeph pg stat).pg_summary

        $during.Up | Should -Be ($during.Osds - 1)
        $health | Should -Be 'HEALTH_WARN'
        $checked | Should -Contain "app1 data=$($Hashes['app1'])"
        $checked | Should -Contain "app2 data=$($Hashes['app2'])"
        $checked | Should -Contain 'app2 wrote=1048576'
        $afterwards.Up | Should -Be $afterwards.Osds
        (Invoke-AdminCeph health).status | Should -Be 'HEALTH_OK'
        @($pgs.num_pg_by_state | Where-Object name -eq 'active+clean').num | Should -Be $pgs.num_pgs
    }
}

Describe 'A volume moves to another host when the host that had it mounted dies' -Skip:$SkipCeph {
    BeforeAll {
        $Volume = Get-VolumePath 'app1'
        $SecondMountPoint = Join-Path $TestEnv.MountDirectory 'app1-second'
        $SecondHolder = "$([Environment]::MachineName):$SecondHost/run"
    }

    # SIGTERM rather than SIGKILL: qemu then lifts its FUSE mount as it exits, and the loop device's backing file reads
    # '/'. Only the export's record still names that loop; the dead host's dismount below must find it through it.
    It 'the second host mounts it, writes, and dies (its qemu-storage-daemon stopped with SIGTERM)' {
        $output = Invoke-SecondHost @"
`$null = Mount-SparseVolume -Path '$Volume' -MountPoint '$SecondMountPoint' -Confirm:`$false
`$stream = [System.IO.File]::Open('$SecondMountPoint/from-second.txt', 'Create', 'Write', 'None')
`$bytes = [System.Text.Encoding]::UTF8.GetBytes('written on the second host')
`$stream.Write(`$bytes, 0, `$bytes.Length); `$stream.Flush(`$true); `$stream.Dispose()
'mounted'
"@
        $daemons = @(Get-Process -Name qemu-storage-daemon -ErrorAction Ignore | Where-Object { $_.CommandLine -like "*$SecondHost/run*" })

        "$output" | Should -Be 'mounted'
        $daemons | Should -HaveCount 1
        & kill -TERM $daemons[0].Id
        $daemons[0].WaitForExit(10000) | Should -BeTrue
        "$(Get-LoopDeviceUnder $SecondHost -Environment $TestEnv)" | Should -Match '^/dev/loop\d+: /$' -Because 'the loop outlives the export it sat on'
    }

    It 'Get-SparseVolume on the first host shows the dead host as the holder' {
        $listed = Get-SparseVolume -Name app1 -Pool $PoolName
        $table = Get-SparseVolume -Name app1 -Pool $PoolName | Out-String -Width 300

        $listed.MountedOn | Should -Be $SecondHolder
        $listed.IsMounted | Should -BeFalse
        $table | Should -Match ([regex]::Escape("(on $SecondHolder)"))
        (Get-SparseVolume -Name app2 -Pool $PoolName).MountedOn | Should -BeNullOrEmpty
    }

    It 'refuses the first host, naming the holder, and takes over with -BreakLockOf with the data intact' {
        $mountPoint = Get-MountPath 'app1'

        { Mount-SparseVolume -Path $Volume -MountPoint $mountPoint -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'VolumeInUse,SparseStorage.PowerShell.Commands.MountSparseVolumeCommand' -ExpectedMessage "*$SecondHolder*-BreakLockOf*"
        $mounted = Mount-SparseVolume -Path $Volume -MountPoint $mountPoint -BreakLockOf $SecondHolder -Confirm:$false
        try {
            $mounted.IsMounted | Should -BeTrue
            $mounted.MountedOn | Should -Be "$([Environment]::MachineName):$($TestEnv.RuntimeDirectory)"
            Get-Content -LiteralPath (Join-Path $mountPoint 'from-second.txt') | Should -Be 'written on the second host'
            Get-Sha256 (Join-Path $mountPoint 'data.bin') | Should -Be $Hashes['app1']
            Write-RandomFile -Path (Join-Path $mountPoint 'after-takeover.bin') -Length 1MB -Seed 11
        }
        finally {
            $null = Dismount-SparseVolume -Path $Volume -Confirm:$false
        }
        # The dead host cleans up its side (mount, loop device) without touching the lock it lost. Its listing first
        # warns of the dead daemon's leftovers (the warning is its host's, not an error).
        $cleanup = @(Invoke-SecondHost "`$v = Dismount-SparseVolume -Path '$Volume' -Confirm:`$false -PassThru; 'attached=' + `$v.IsAttached")
        $cleanup[-1] | Should -Be 'attached=False'
        Get-MountPointUnder $SecondMountPoint | Should -BeNullOrEmpty
        Get-LoopDeviceUnder $SecondHost -Environment $TestEnv | Should -BeNullOrEmpty
        (Get-SparseVolume -Name app1 -Pool $PoolName).MountedOn | Should -BeNullOrEmpty
    }

    It 'Remove-SparseVolume plans and removes the volume''s mount-lock object with it' {
        $whatIf = @(Remove-SparseVolume -Path $Volume -WhatIf -Verbose 4>&1 | ForEach-Object Message) -join "`n"
        Remove-SparseVolume -Path $Volume -Confirm:$false
        $null = & rados --conf $CephConfig --id admin --keyring $AdminKeyring --pool rbd --namespace $Namespace stat sparsestorage_mount.app1 2>&1
        $statExit = $LASTEXITCODE

        $whatIf | Should -Match 'Plan: rados .* rm sparsestorage_mount\.app1'
        $whatIf | Should -Match 'Plan: rbd .* rm '
        $statExit | Should -Not -Be 0
        (Invoke-AdminRbd ls --pool rbd --namespace $Namespace) | Should -Not -Contain 'app1'
    }
}
