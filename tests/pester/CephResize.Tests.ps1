# Resizing Ceph volumes through the cmdlets, against a real cluster from tests/ceph/lab.sh brought up in BeforeAll and
# always taken down in AfterAll: grow and shrink with the filesystem, the data checked by its hash, -WhatIf changing
# nothing, and the refusals of file pools.
#
# Needs root, FUSE, qemu's rbd driver and the Ceph packages; skipped otherwise, and failing instead when
# SPARSESTORAGE_INTEGRATION=require. Only one lab runs at a time on a machine: run this suite alone.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'ceph-lab.ps1')
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'ceph-lab.ps1') -SuiteName 'cresize' -PoolName 'shared'
    $MountPoint = Join-Path $TestEnv.MountDirectory 'web01'

    # The image's size as the cluster reports it to client.admin.
    function Get-ImageSize([string] $Image) {
        (Invoke-AdminRbd info --format json --pool rbd --namespace $Namespace --image $Image | ConvertFrom-Json).size
    }

    # Mounts web01, runs the script block with the mount point, and dismounts again.
    function Invoke-Mounted([scriptblock] $Script) {
        $null = Mount-SparseVolume -Path "rbd:rbd/$Namespace/web01" -MountPoint $MountPoint -Confirm:$false
        try {
            & $Script $MountPoint
        }
        finally {
            Dismount-SparseVolume -Path "rbd:rbd/$Namespace/web01" -Confirm:$false
        }
    }

    if ($CephLabPossible) {
        Start-CephLab $Namespace
        $null = Register-CephTestPool $PoolName
    }
}

AfterAll {
    Remove-CephSuite
}

Describe 'Resizing a Ceph volume through the cmdlets' -Skip:$SkipCeph {
    BeforeAll {
        $null = New-SparseVolume -Name web01 -Pool $PoolName -Size 256MB -FileSystem Ext4 -Confirm:$false
        $Data = [byte[]]::new(12MB)
        [System.Security.Cryptography.RandomNumberGenerator]::Fill($Data)
        $DataHash = [Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData($Data))
        Invoke-Mounted { param($mountPoint) [System.IO.File]::WriteAllBytes((Join-Path $mountPoint 'data.bin'), $Data) }
        $Key = (Get-Content -LiteralPath $CephKeyring | Where-Object { $_ -match '^\s*key\s*=' }) -replace '^\s*key\s*=\s*', ''
    }

    It 'Resize-SparseVolume -WhatIf lists rbd resize before resize2fs on the image''s export, and changes nothing' {
        $output = @(Get-SparseVolume -Name web01 -Pool $PoolName | Resize-SparseVolume -Size 512MB -WhatIf -Verbose 4>&1)
        $plan = @($output.Message | Where-Object { $_ -like 'Plan: *' })
        $rbd = [array]::FindIndex([string[]] $plan, [Predicate[string]] { param($s) $s -match '^Plan: rbd .* resize --no-progress --size 536870912B --image web01' })
        $resize2fs = [array]::FindIndex([string[]] $plan, [Predicate[string]] { param($s) $s -match '^Plan: resize2fs .+ 524288K$' })
        $rbd | Should -BeGreaterThan 0
        $resize2fs | Should -BeGreaterThan $rbd
        $script:GrowPlan = $plan
        ($plan -join "`n") | Should -Match 'qemu-storage-daemon .*driver=rbd' -Because 'the filesystem is grown on the image exported as a file'
        ($plan -join "`n") | Should -Not -Match ([regex]::Escape($Key))
        Get-ImageSize web01 | Should -Be 256MB
    }

    It 'grows the image and its filesystem; the data is intact' {
        $result = Get-SparseVolume -Name web01 -Pool $PoolName | Resize-SparseVolume -Size 512MB -Confirm:$false
        $result.Steps.Count | Should -Be $script:GrowPlan.Count -Because 'the run applies the steps -WhatIf listed'
        $result.Steps[1] | Should -Be $script:GrowPlan[1].Substring(6)
        $result.NewSizeBytes | Should -Be 512MB
        $result.FileSystemSizeBytes | Should -Be 512MB
        Get-ImageSize web01 | Should -Be 512MB
        (Get-SparseVolume -Name web01 -Pool $PoolName).SizeBytes | Should -Be 512MB
        Invoke-Mounted { param($mountPoint) [Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData([System.IO.File]::ReadAllBytes((Join-Path $mountPoint 'data.bin')))) } |
            Should -Be $DataHash
    }

    It 'Resize-SparseVolume -Delta -WhatIf on a shrink lists the filesystem steps before the cut, and changes nothing' {
        $output = @(Resize-SparseVolume -Name web01 -Pool $PoolName -Delta -256MB -WhatIf -Verbose 4>&1)
        $plan = @($output.Message | Where-Object { $_ -like 'Plan: *' })
        $shrinkFs = [array]::FindIndex([string[]] $plan, [Predicate[string]] { param($s) $s -match '^Plan: resize2fs .+ 262144K$' })
        $cut = [array]::FindIndex([string[]] $plan, [Predicate[string]] { param($s) $s -match '^Plan: rbd .* resize --no-progress --size 268435456B --allow-shrink --image web01' })
        $shrinkFs | Should -BeGreaterThan 0
        $cut | Should -BeGreaterThan $shrinkFs
        Get-ImageSize web01 | Should -Be 512MB
    }

    It 'shrinks the filesystem, then the image; the data is intact' {
        $result = Resize-SparseVolume -Name web01 -Pool $PoolName -Delta -256MB -Force
        $result.NewSizeBytes | Should -Be 256MB
        $result.FileSystemSizeBytes | Should -Be 256MB
        Get-ImageSize web01 | Should -Be 256MB
        Invoke-Mounted { param($mountPoint) [Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData([System.IO.File]::ReadAllBytes((Join-Path $mountPoint 'data.bin')))) } |
            Should -Be $DataHash
    }

    It 'shrinks to the measured minimum with -ToMinimumSize; the data is intact' {
        $result = Resize-SparseVolume -Path "rbd:rbd/$Namespace/web01" -ToMinimumSize -Force
        $result.NewSizeBytes | Should -BeLessThan 256MB
        $result.NewSizeBytes | Should -BeGreaterThan 12MB
        Get-ImageSize web01 | Should -Be $result.NewSizeBytes
        Invoke-Mounted { param($mountPoint) [Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData([System.IO.File]::ReadAllBytes((Join-Path $mountPoint 'data.bin')))) } |
            Should -Be $DataHash
    }

    It 'Test-SparseVolume checks the dismounted volume''s filesystem read-only on an export, and not while it is mounted' {
        $result = Get-SparseVolume -Name web01 -Pool $PoolName | Test-SparseVolume
        $result.IsHealthy | Should -BeTrue
        ($result.Checks -join "`n") | Should -Match '(?m)^e2fsck -f -n '
        Test-SparseVolume -Name web01 -Pool $PoolName -Quiet | Should -BeTrue
        $mounted = Invoke-Mounted { param($mountPoint) Test-SparseVolume -Name web01 -Pool $PoolName }
        $mounted.Checks | Should -BeNullOrEmpty
        $mounted.Findings.Message | Should -Match '^Not checked: the volume is mounted at '
    }

    It 'Optimize-SparseVolume trims the dismounted volume through its export and sparsifies the image, as -WhatIf listed' {
        Invoke-Mounted { param($mountPoint) [System.IO.File]::WriteAllBytes((Join-Path $mountPoint 'scratch.bin'), [System.Security.Cryptography.RandomNumberGenerator]::GetBytes(24MB)) }
        Invoke-Mounted { param($mountPoint) Remove-Item -LiteralPath (Join-Path $mountPoint 'scratch.bin') }
        $output = @(Optimize-SparseVolume -Name web01 -Pool $PoolName -WhatIf -Verbose 4>&1)
        $plan = @($output.Message | Where-Object { $_ -like 'Plan: *' } | ForEach-Object { $_.Substring(6) })
        ($plan -join "`n") | Should -Match '(?m)^fstrim --verbose '
        ($plan -join "`n") | Should -Match '(?m)^rbd .* sparsify --no-progress --image web01'
        $result = Optimize-SparseVolume -Name web01 -Pool $PoolName -Confirm:$false
        $result.Steps.Count | Should -Be $plan.Count
        $result.Volume.IsAttached | Should -BeFalse
        Invoke-Mounted { param($mountPoint) [Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData([System.IO.File]::ReadAllBytes((Join-Path $mountPoint 'data.bin')))) } |
            Should -Be $DataHash
    }

    It 'refuses a shrink below the used space at -WhatIf already, by its error id' {
        $size = Get-ImageSize web01
        { Resize-SparseVolume -Name web01 -Pool $PoolName -Size 16MB -WhatIf -ErrorAction Stop } |
            Should -Throw -ErrorId 'ShrinkBelowUsedSpace,SparseStorage.PowerShell.Commands.ResizeSparseVolumeCommand'
        Get-ImageSize web01 | Should -Be $size
    }

    It 'refuses to resize a mounted volume, and an xfs shrink' {
        $null = Mount-SparseVolume -Path "rbd:rbd/$Namespace/web01" -MountPoint $MountPoint -Confirm:$false
        try {
            { Resize-SparseVolume -Name web01 -Pool $PoolName -Size 1GB -Confirm:$false -ErrorAction Stop } |
                Should -Throw -ErrorId 'ResizeWhileMounted,SparseStorage.PowerShell.Commands.ResizeSparseVolumeCommand'
        }
        finally {
            Dismount-SparseVolume -Path "rbd:rbd/$Namespace/web01" -Confirm:$false
        }
        $null = New-SparseVolume -Name db01 -Pool $PoolName -Size 320MB -FileSystem Xfs -Confirm:$false
        { Resize-SparseVolume -Name db01 -Pool $PoolName -Size 300MB -Force -ErrorAction Stop } |
            Should -Throw -ErrorId 'XfsCannotShrink,SparseStorage.PowerShell.Commands.ResizeSparseVolumeCommand'
        Get-ImageSize db01 | Should -Be 320MB
    }
}
