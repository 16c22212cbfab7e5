# Snapshots of Ceph volumes (RBD snapshots) through the cmdlets: a real cluster from tests/ceph/lab.sh, brought up in
# BeforeAll and always taken down in AfterAll. The pool is registered on an RBD namespace of the lab's pool 'rbd' as
# the limited client 'sparse' with its keyring file; the test writes and reads data with qemu-io and rbd as
# client.admin.
#
# Needs root, FUSE, qemu's rbd driver and the Ceph packages; skipped otherwise, and failing instead when
# SPARSESTORAGE_INTEGRATION=require. Run it alone, not beside another Ceph suite or the xunit Ceph tests.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'ceph-lab.ps1')
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'ceph-lab.ps1') -SuiteName 'cephsnap' -PoolName 'snaps'
    $VolumePath = "rbd:rbd/$Namespace/disk"

    # 1 MiB of one byte value at the start of the image, through qemu's rbd driver.
    function Write-Pattern([byte] $Value) {
        $output = & qemu-io -f raw "rbd:rbd/$Namespace/disk:conf=$($CephConfig):id=admin:keyring=$AdminKeyring" -c ('write -P 0x{0:x2} 0 1M' -f $Value) 2>&1
        if ($LASTEXITCODE -ne 0) {
            throw "qemu-io failed ($LASTEXITCODE): $output"
        }
    }

    function Get-FirstByte {
        $file = Join-Path $TestEnv.Root ('export-{0}.raw' -f [guid]::NewGuid().ToString('N'))
        $null = Invoke-AdminRbd export --no-progress --pool rbd --namespace $Namespace --image disk $file
        try {
            $stream = [IO.File]::OpenRead($file)
            try { $stream.ReadByte() } finally { $stream.Dispose() }
        }
        finally {
            Remove-Item -LiteralPath $file -Force
        }
    }

    if ($CephLabPossible) {
        Start-CephLab $Namespace
        $null = Register-CephTestPool $PoolName
        $null = New-SparseVolume -Name disk -Pool $PoolName -Size 64MB -Confirm:$false
    }
}

AfterAll {
    Remove-CephSuite
}

Describe 'Snapshots of a Ceph volume through the cmdlets' -Skip:$SkipCeph {
    It 'New-VolumeSnapshot -WhatIf shows the rbd snap create command line and takes nothing' {
        $output = @(New-VolumeSnapshot -Volume disk -Pool $PoolName -Name golden -WhatIf -Verbose 4>&1)
        $messages = @($output.Message) -join "`n"
        $messages | Should -Match 'Plan: rbd .*--keyring \S+client\.sparse\.keyring snap create --no-progress --image disk --snap golden'
        Invoke-AdminRbd snap ls --pool rbd --namespace $Namespace --image disk | Should -BeNullOrEmpty
    }

    It 'takes an RBD snapshot of the data as it is, and Get-VolumeSnapshot lists it' {
        Write-Pattern 0x11
        $snapshot = New-VolumeSnapshot -VolumePath $VolumePath -Name golden -Confirm:$false
        $snapshot.Kind | Should -Be 'RbdSnapshot'
        $snapshot.SizeBytes | Should -Be 64MB
        $snapshot.CreatedUtc.Kind | Should -Be 'Utc'
        $listed = @(Get-VolumeSnapshot -Volume disk -Pool $PoolName)
        $listed.Name | Should -Be @('golden')
        $listed[0].Id | Should -Be $snapshot.Id
        (Invoke-AdminRbd snap ls --format json --pool rbd --namespace $Namespace --image disk | ConvertFrom-Json).name | Should -Be 'golden'
    }

    It 'counts the snapshots in the volume listing' {
        $null = New-VolumeSnapshot -Volume disk -Pool $PoolName -Name spare -Confirm:$false
        (Get-SparseVolume -Name disk -Pool $PoolName).SnapshotCount | Should -Be 2
    }

    It 'Restore-VolumeSnapshot -WhatIf shows rbd snap rollback and changes nothing' {
        Write-Pattern 0x22
        $output = @(Get-VolumeSnapshot -VolumePath $VolumePath -Name golden | Restore-VolumeSnapshot -WhatIf -Verbose 4>&1)
        $messages = @($output.Message) -join "`n"
        $messages | Should -Match 'Plan: rbd .* snap rollback --no-progress --image disk --snap golden'
        Get-FirstByte | Should -Be 0x22
    }

    It 'restores the piped snapshot: the data is back as it was when the snapshot was taken' {
        $restored = Get-VolumeSnapshot -VolumePath $VolumePath -Name golden | Restore-VolumeSnapshot -Force -PassThru
        $restored.Path | Should -Be $VolumePath
        Get-FirstByte | Should -Be 0x11
    }

    It 'refuses to remove a protected snapshot that a clone depends on, and says which clone' {
        $null = Invoke-AdminRbd snap protect --pool rbd --namespace $Namespace --image disk --snap spare
        $null = Invoke-AdminRbd clone "rbd/$Namespace/disk@spare" "rbd/$Namespace/child"
        { Remove-VolumeSnapshot -VolumePath $VolumePath -Name spare -Force -ErrorAction Stop } | Should -Throw -ErrorId 'VolumeInUse*' -ExpectedMessage '*child*'
        @(Get-VolumeSnapshot -VolumePath $VolumePath).Name | Should -Contain 'spare'
    }

    It 'removes snapshots by wildcard: the protected one is unprotected first once its clone is gone' {
        $null = Invoke-AdminRbd rm --no-progress --pool rbd --namespace $Namespace --image child
        $removed = @(Remove-VolumeSnapshot -VolumePath $VolumePath -Name '*' -Force -PassThru -Verbose 4>&1)
        $steps = @($removed | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -like 'Step: *' }).Message
        ($steps -join "`n") | Should -Match 'snap unprotect --image disk --snap spare'
        @($removed | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }).Name | Should -Be @('golden', 'spare')
        Get-VolumeSnapshot -VolumePath $VolumePath | Should -BeNullOrEmpty
        (Get-SparseVolume -Name disk -Pool $PoolName).SnapshotCount | Should -Be 0
    }

    It 'Copy-SparseVolume -Linked makes an RBD clone of a protected snapshot, and a full copy is rbd deep cp' {
        $output = @(Copy-SparseVolume -Path $VolumePath -Destination linked -Linked -WhatIf -Verbose 4>&1)
        (@($output.Message) -join "`n") | Should -Match 'Plan: rbd .* clone --image disk --snap clone-linked --dest linked'
        $linked = Copy-SparseVolume -Path $VolumePath -Destination linked -Linked -Confirm:$false
        $full = Get-SparseVolume -Name disk -Pool $PoolName | Copy-SparseVolume -Destination full -Confirm:$false
        $linked.BackingFile | Should -Be "$VolumePath@clone-linked"
        $full.BackingFile | Should -BeNullOrEmpty
        @(Get-SparseVolume -Pool $PoolName).Name | Should -Be @('disk', 'full', 'linked')
        (Invoke-AdminRbd info --format json --pool rbd --namespace $Namespace --image linked | ConvertFrom-Json).parent.snapshot | Should -Be 'clone-linked'
    }
}
