# Copy-SparseVolume between a Ceph pool and a file pool (both ways), and Export-AtaoeDisk / Stop-AtaoeExport of a Ceph
# volume, through the cmdlets against a real cluster from tests/ceph/lab.sh brought up in BeforeAll and always taken
# down in AfterAll. vblade serves on one end of a veth pair in this session's namespace; the other end is in a
# namespace the suite creates, from which a child pwsh finds the target with Find-AtaoeDisk.
#
# Needs root, FUSE, qemu's rbd driver, vblade and the Ceph packages; skipped otherwise, and failing instead when
# SPARSESTORAGE_INTEGRATION=require. Only one lab runs at a time on a machine: run this suite alone.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'ceph-lab.ps1')
    $SkipAoe = $SkipCeph -or -not ($RequireIntegration -or (Test-Tool 'vblade', 'start-stop-daemon', 'ip'))
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'ceph-lab.ps1') -SuiteName 'ccopyaoe' -PoolName 'shared'
    $FilePoolName = 'files'

    # The limited client's key, which no step may show.
    function Get-ClientKey {
        ((Get-Content -LiteralPath $CephKeyring | Where-Object { $_ -match '^\s*key\s*=' }) -split '=', 2)[1].Trim()
    }

    # Writes a byte pattern through qemu's rbd driver as client.admin (the test's own hand).
    function Write-CephPattern([string] $Image, [string[]] $Commands) {
        $file = "rbd:rbd/$Namespace/${Image}:conf=${CephConfig}:id=admin:keyring=$AdminKeyring"
        $null = & qemu-io -f raw $file @($Commands | ForEach-Object { '-c', $_ })
        if ($LASTEXITCODE -ne 0) { throw "qemu-io on $Image failed" }
    }

    # The whole image as a file, exported by client.admin; returns its path.
    function Export-AdminImage([string] $Image) {
        $file = Join-Path $TestEnv.Root "export-$Image-$([guid]::NewGuid().ToString('N')).raw"
        $null = Invoke-AdminRbd export --no-progress --pool rbd --namespace $Namespace --image $Image $file
        $file
    }

    function Get-AllocatedBytes([string] $Path) { [long](& stat --format=%b $Path) * 512 }

    # Runs a copy with -Verbose; returns the plan's steps (from -WhatIf) and the steps the run reported.
    function Invoke-PlannedCopy([string] $Source, [string] $Destination) {
        $plan = @(Copy-SparseVolume -Path $Source -Destination $Destination -WhatIf -Verbose 4>&1 | Where-Object Message -like 'Plan: *' | ForEach-Object { $_.Message -replace '^Plan: ' })
        $ran = @(Copy-SparseVolume -Path $Source -Destination $Destination -Confirm:$false -Verbose 4>&1)
        [pscustomobject]@{
            Planned = $plan
            Applied = @($ran | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -like 'Step: *' } | ForEach-Object { $_.Message -replace '^Step: ' })
            Volume  = $ran | Where-Object { $_ -is [SparseStorage.Core.Volumes.SparseVolume] }
        }
    }

    # Each applied step is the planned one, a <...> in the plan standing for a value only the run knows.
    function Assert-PlannedEqualsApplied([object] $Copy) {
        $Copy.Planned.Count | Should -BeGreaterThan 0
        $Copy.Applied.Count | Should -Be $Copy.Planned.Count
        for ($i = 0; $i -lt $Copy.Planned.Count; $i++) {
            $pattern = [WildcardPattern]::Escape($Copy.Planned[$i]) -replace '<[^<>]*>', '*'
            $Copy.Applied[$i] | Should -BeLike $pattern
        }
        $key = Get-ClientKey
        $Copy.Applied | Where-Object { $_.Contains($key) } | Should -BeNullOrEmpty
    }

    # Find-AtaoeDisk in the supervisor namespace, in a child pwsh that imports the same built module.
    function Find-FromSupervisor {
        $command = "Import-Module '$SparseStorageManifestPath'; Find-AtaoeDisk -Interface $($AoeLab.SupervisorInterface) -Timeout 1 | Select-Object Shelf, Slot, SizeBytes | ConvertTo-Json -AsArray"
        $text = ((& ip netns exec $AoeLab.Supervisor $PwshPath -NoProfile -NonInteractive -Command $command) -join "`n").Trim()
        if ($text.Length -gt 0) { $text | ConvertFrom-Json }
    }

    $AoeLab = $null
    if ($CephLabPossible) {
        Start-CephLab $Namespace
        $null = Register-CephTestPool $PoolName
        $FilePool = New-TestPool -Environment $TestEnv -Name $FilePoolName
        $AoeLab = New-AoeLab -Prefix 'sstest'
    }
}

AfterAll {
    try {
        if ($null -ne $AoeLab) {
            Remove-AoeLab -Lab $AoeLab
        }
    }
    finally {
        Remove-CephSuite
    }
}

Describe 'Copy-SparseVolume between a Ceph pool and a file pool' -Skip:$SkipCeph {
    BeforeAll {
        $null = New-SparseVolume -Name cephdisk -Pool $PoolName -Size 128MB -Confirm:$false
        Write-CephPattern cephdisk 'write -P 0x5a 8M 3M', 'write -P 0xa5 100M 1M'
    }

    It 'copies a Ceph volume into a file pool as raw and as qcow2, with its data and its holes, by the planned steps' {
        $expected = Get-Sha256 (Export-AdminImage cephdisk)
        $raw = Invoke-PlannedCopy "rbd:rbd/$Namespace/cephdisk" (Join-Path $FilePool.Path 'cephdisk.img')
        $qcow = Invoke-PlannedCopy "rbd:rbd/$Namespace/cephdisk" (Join-Path $FilePool.Path 'cephdisk2.qcow2')

        Assert-PlannedEqualsApplied $raw
        Assert-PlannedEqualsApplied $qcow
        $raw.Planned[0] | Should -BeLike 'qemu-img convert -p -f raw -O raw rbd:*'
        $raw.Volume.Format | Should -Be 'Raw'
        $raw.Volume.SizeBytes | Should -Be 128MB
        Get-Sha256 $raw.Volume.Path | Should -Be $expected
        Get-AllocatedBytes $raw.Volume.Path | Should -BeLessThan 24MB
        $qcow.Volume.Format | Should -Be 'Qcow2'
        $plain = Join-Path $TestEnv.Root 'qcow-as-raw.raw'
        & qemu-img convert -f qcow2 -O raw $qcow.Volume.Path $plain
        Get-Sha256 $plain | Should -Be $expected
        Get-AllocatedBytes $qcow.Volume.Path | Should -BeLessThan 24MB
    }

    It 'copies a file volume into the Ceph pool, which stays thin, by the planned steps' {
        $source = New-SparseVolume -Name filedisk -Pool $FilePoolName -Size 128MB -Confirm:$false
        $null = & qemu-io -f raw $source.Path -c 'write -P 0x11 4M 2M' -c 'write -P 0x22 90M 1M'
        $copy = Invoke-PlannedCopy $source.Path "rbd:rbd/$Namespace/fromfile"

        Assert-PlannedEqualsApplied $copy
        $copy.Planned[-1] | Should -BeLike 'rbd * rename --image .sparsestorage-partial-* --dest fromfile *'
        $copy.Volume.Path | Should -Be "rbd:rbd/$Namespace/fromfile"
        Get-Sha256 (Export-AdminImage fromfile) | Should -Be (Get-Sha256 $source.Path)
        $used = (Invoke-AdminRbd du --format json --pool rbd --namespace $Namespace --image fromfile | ConvertFrom-Json).images[0].used_size
        $used | Should -BeLessThan 24MB
    }

    It 'refuses -Linked across pool kinds and a taken destination without -Replace' {
        { Copy-SparseVolume -Path "rbd:rbd/$Namespace/cephdisk" -Destination (Join-Path $FilePool.Path 'linked.qcow2') -Linked -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'LinkedAcrossPoolKinds,SparseStorage.PowerShell.Commands.CopySparseVolumeCommand'
        { Copy-SparseVolume -Path "rbd:rbd/$Namespace/cephdisk" -Destination (Join-Path $FilePool.Path 'cephdisk.img') -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'VolumeExists,SparseStorage.PowerShell.Commands.CopySparseVolumeCommand'
        Test-Path -LiteralPath (Join-Path $FilePool.Path 'linked.qcow2') | Should -BeFalse
    }
}

Describe 'Export-AtaoeDisk and Stop-AtaoeExport of a Ceph volume' -Skip:$SkipAoe {
    BeforeAll {
        $null = New-SparseVolume -Name aoedisk -Pool $PoolName -Size 64MB -Confirm:$false
        Write-CephPattern aoedisk 'write -P 0x6b 0 1M'
    }

    It 'serves the image from its FUSE file under this host''s lock, and the stop leaves nothing' {
        $plan = @(Get-SparseVolume -Name aoedisk -Pool $PoolName | Export-AtaoeDisk -Shelf 51 -Slot 2 -Interface $AoeLab.NodeInterface -WhatIf -Verbose 4>&1 |
            Where-Object Message -like 'Plan: *' | ForEach-Object { $_.Message -replace '^Plan: ' })
        $plan | Should -HaveCount 4
        $plan[0] | Should -BeLike 'rados * lock get sparsestorage_mount.aoedisk mount *'
        $plan[1] | Should -BeLike 'qemu-storage-daemon *driver=rbd*'
        Get-AtaoeExport | Should -BeNullOrEmpty

        $ran = @(Get-SparseVolume -Name aoedisk -Pool $PoolName | Export-AtaoeDisk -Shelf 51 -Slot 2 -Interface $AoeLab.NodeInterface -Confirm:$false -Verbose 4>&1)
        $export = $ran | Where-Object { $_ -is [SparseStorage.Core.Aoe.AtaoeExport] }
        $applied = @($ran | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -like 'Step: *' } | ForEach-Object { $_.Message -replace '^Step: ' })
        $applied | Should -Be $plan
        $export.State | Should -Be 'Running'
        $export.VolumePath | Should -Be "rbd:rbd/$Namespace/aoedisk"
        $served = (Get-Content -LiteralPath "/proc/$($export.ProcessId)/cmdline" -Raw).Split([char]0, [StringSplitOptions]::RemoveEmptyEntries)[-1]
        $served | Should -BeLike "$($TestEnv.RuntimeDirectory)/*"
        @(Get-Content -LiteralPath /proc/self/mountinfo | Where-Object { $_ -like "* $served * fuse*" }) | Should -HaveCount 1 -Because 'vblade serves the FUSE export of the image'
        (Get-MountLock aoedisk).description | Should -Be "sparsestorage mount on $([Environment]::MachineName):$($TestEnv.RuntimeDirectory)"
        $found = @(Find-FromSupervisor)
        $found | Should -HaveCount 1
        $found[0].Shelf | Should -Be 51
        $found[0].SizeBytes | Should -Be 64MB
        { Dismount-SparseVolume -Path "rbd:rbd/$Namespace/aoedisk" -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'VolumeInUse,SparseStorage.PowerShell.Commands.DismountSparseVolumeCommand'

        $stopPlan = @(Get-AtaoeExport -Shelf 51 | Stop-AtaoeExport -WhatIf -Verbose 4>&1 | Where-Object Message -like 'Plan: *' | ForEach-Object { $_.Message -replace '^Plan: ' })
        $stopped = @(Get-AtaoeExport -Shelf 51 | Stop-AtaoeExport -Confirm:$false -Verbose 4>&1 | Where-Object Message -like 'Step: *' | ForEach-Object { $_.Message -replace '^Step: ' })

        $stopped | Should -Be $stopPlan
        $stopPlan | Should -HaveCount 4
        $stopPlan[1] | Should -BeLike 'stop qemu-storage-daemon (pid *'
        $stopPlan[2] | Should -BeLike 'rados * lock break sparsestorage_mount.aoedisk mount *'
        Get-AtaoeExport | Should -BeNullOrEmpty
        # Gone, or a zombie its parent (this container's init) has not reaped yet.
        $state = if (Test-Path -LiteralPath "/proc/$($export.ProcessId)/stat") { ((Get-Content -LiteralPath "/proc/$($export.ProcessId)/stat" -Raw) -split '\) ', 2)[1][0] } else { 'gone' }
        [string]$state | Should -BeIn 'gone', 'Z'
        @(Get-Process -Name qemu-storage-daemon, vblade -ErrorAction Ignore | Where-Object { $_.CommandLine -like "*$($TestEnv.Root)*" }) | Should -HaveCount 0
        Get-MountLock aoedisk | Should -BeNullOrEmpty
        Find-FromSupervisor | Should -HaveCount 0
    }

    It 'serves it read-only from a read-only export without the one-writer lock, by the planned steps' {
        $plan = @(Get-SparseVolume -Name aoedisk -Pool $PoolName | Export-AtaoeDisk -ReadOnly -Shelf 51 -Slot 3 -Interface $AoeLab.NodeInterface -WhatIf -Verbose 4>&1 |
            Where-Object Message -like 'Plan: *' | ForEach-Object { $_.Message -replace '^Plan: ' })
        $ran = @(Get-SparseVolume -Name aoedisk -Pool $PoolName | Export-AtaoeDisk -ReadOnly -Shelf 51 -Slot 3 -Interface $AoeLab.NodeInterface -Confirm:$false -Verbose 4>&1)
        $export = $ran | Where-Object { $_ -is [SparseStorage.Core.Aoe.AtaoeExport] }
        try {
            $applied = @($ran | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -like 'Step: *' } | ForEach-Object { $_.Message -replace '^Step: ' })
            $applied | Should -Be $plan
            $plan | Should -HaveCount 3 -Because 'a read-only export takes no lock'
            $plan[0] | Should -BeLike 'qemu-storage-daemon *driver=rbd*'
            $export.ReadOnly | Should -BeTrue
            $arguments = (Get-Content -LiteralPath "/proc/$($export.ProcessId)/cmdline" -Raw).Split([char]0, [StringSplitOptions]::RemoveEmptyEntries)
            $arguments | Should -Contain '-r'
            Get-MountLock aoedisk | Should -BeNullOrEmpty -Because 'readers do not hold the one-writer lock'
            $found = @(Find-FromSupervisor)
            $found | Should -HaveCount 1
            $found[0].Slot | Should -Be 3
        }
        finally {
            Get-AtaoeExport -Shelf 51 | Stop-AtaoeExport -Confirm:$false
        }
        Get-AtaoeExport | Should -BeNullOrEmpty
        @(Get-Process -Name qemu-storage-daemon, vblade -ErrorAction Ignore | Where-Object { $_.CommandLine -like "*$($TestEnv.Root)*" }) | Should -HaveCount 0
    }
}
